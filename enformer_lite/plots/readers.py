"""Reading what the figures show: BED annotations and bigWig signal over a region.

Regions are 0-based half-open intervals
(:class:`enformer_lite.training.predict.Region`, parsed from ``chrom:start-end``
with optional commas). Signal is returned per bin as the
mean per base pair over the bin, the scale a genome browser shows for a bigWig
(bases without data count as 0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.bigwig import open_bigwig
from enformer_lite.errors import InputError
from enformer_lite.genome import resolve_chrom
from enformer_lite.training.predict import Region

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]

def on_bins(region: Region, bin_size: int) -> Region:
    """The smallest region on the ``bin_size`` grid that contains ``region``."""
    return Region(region.chrom, region.start // bin_size * bin_size, -(-region.end // bin_size) * bin_size)


def region_label(region: Region) -> str:
    """``chr3:1,000,000-1,114,688`` (0-based, half-open, with thousands separators)."""
    return f"{region.chrom}:{region.start:,}-{region.end:,}"


def read_bed(path: str | os.PathLike[str], region: Region | None = None) -> pd.DataFrame:
    """Read a BED file (3 to 6 columns) into :data:`BED_COLUMNS`; rows overlapping ``region`` only.

    Missing name/score/strand columns are filled with "", NaN and ".". Header,
    ``track`` and ``browser`` lines are skipped. Raises InputError naming the file
    and line for a short row, non-integer coordinates or ``end < start``.
    """
    bed = Path(path)
    if not bed.is_file():
        raise InputError(f"{bed}: BED file not found")
    rows = []
    with open(bed) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3:
                raise InputError(f"{bed} line {line_no}: expected at least 3 tab-separated BED columns")
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError as err:
                raise InputError(f"{bed} line {line_no}: start/end must be integers: {fields[1]!r}, {fields[2]!r}") from err
            if start < 0 or end < start:
                raise InputError(f"{bed} line {line_no}: bad interval {start}-{end}")
            if region is not None and (fields[0] != region.chrom or end <= region.start or start >= region.end):
                continue
            name = fields[3] if len(fields) > 3 else ""
            try:
                score = float(fields[4]) if len(fields) > 4 and fields[4] not in ("", ".") else float("nan")
            except ValueError as err:
                raise InputError(f"{bed} line {line_no}: score must be a number, got {fields[4]!r}") from err
            strand = fields[5] if len(fields) > 5 else "."
            rows.append((fields[0], start, end, name, score, strand))
    return pd.DataFrame(rows, columns=BED_COLUMNS).astype({"start": np.int64, "end": np.int64, "score": float})


def observed_signal(path: str | os.PathLike[str], region: Region, bin_size: int) -> npt.NDArray[np.float32]:
    """Mean per-base value of a bigWig in each ``bin_size`` bin of ``region``, shape (ceil(length / bin_size),).

    Bases without data (NaN) and positions past the chromosome end count as 0;
    ``chr1``/``1`` spellings are matched. InputError when the chromosome is absent.
    """
    bw = open_bigwig(str(path))
    try:
        chrom = resolve_chrom(region.chrom, bw.chroms())
        if chrom is None:
            raise InputError(f"{path}: no chromosome {region.chrom!r} (nor an alias) in the bigWig")
        size = bw.chroms(chrom)
        n_bins = -(-(region.end - region.start) // bin_size)
        values = np.zeros(n_bins * bin_size, dtype=np.float32)
        lo, hi = min(region.start, size), min(region.end, size)
        if hi > lo:
            raw = np.asarray(bw.values(chrom, lo, hi, numpy=True), dtype=np.float32)
            values[lo - region.start : hi - region.start] = np.nan_to_num(raw, nan=0.0)
    finally:
        bw.close()
    return values.reshape(n_bins, bin_size).mean(axis=1)
