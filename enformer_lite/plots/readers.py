"""Reading what the figures show: bigWig signal and annotations over a region.

Regions are 0-based half-open intervals
(:class:`enformer_lite.data.regions.Region`, parsed from ``chrom:start-end``
with optional commas). Signal is returned per bin as the
mean per base pair over the bin, the scale a genome browser shows for a bigWig
(bases without data count as 0).
"""

from __future__ import annotations

import logging

import os

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.data.bigwig import open_bigwig
from enformer_lite.errors import InputError
from enformer_lite.data.fasta import resolve_chrom
from enformer_lite.data.regions import Region

log = logging.getLogger(__name__)


def on_bins(region: Region, bin_size: int) -> Region:
    """The smallest region on the ``bin_size`` grid that contains ``region``."""
    return Region(region.chrom, region.start // bin_size * bin_size, -(-region.end // bin_size) * bin_size)


def region_label(region: Region) -> str:
    """``chr3:1,000,000-1,114,688`` (0-based, half-open, with thousands separators)."""
    return f"{region.chrom}:{region.start:,}-{region.end:,}"


def overlapping(intervals: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Rows of a table with chrom, start, end columns that overlap ``region``."""
    keep = (intervals["chrom"] == region.chrom) & (intervals["end"] > region.start) & (intervals["start"] < region.end)
    return intervals[keep].reset_index(drop=True)


def observed_signal(
    path: str | os.PathLike[str], region: Region, bin_size: int, missing_chrom: str = "error"
) -> npt.NDArray[np.float32]:
    """Mean per-base value of a bigWig in each ``bin_size`` bin of ``region``, shape (ceil(length / bin_size),).

    Bases without data (NaN) and positions past the chromosome end count as 0;
    ``chr1``/``1`` spellings are matched. A chromosome the bigWig lacks is an InputError, or
    zeros (logged) with ``missing_chrom="zero"`` as in the tracks table.
    """
    bw = open_bigwig(str(path))
    n_bins = -(-(region.end - region.start) // bin_size)
    try:
        chrom = resolve_chrom(region.chrom, bw.chroms())
        if chrom is None:
            if missing_chrom == "zero":
                log.warning("%s: no chromosome %s; drawn as 0 (missing_chrom=zero)", path, region.chrom)
                return np.zeros(n_bins, dtype=np.float32)
            raise InputError(f"{path}: no chromosome {region.chrom!r} (nor an alias) in the bigWig")
        size = bw.chroms(chrom)
        values = np.zeros(n_bins * bin_size, dtype=np.float32)
        lo, hi = min(region.start, size), min(region.end, size)
        if hi > lo:
            raw = np.asarray(bw.values(chrom, lo, hi, numpy=True), dtype=np.float32)
            values[lo - region.start : hi - region.start] = np.nan_to_num(raw, nan=0.0)
    finally:
        bw.close()
    return values.reshape(n_bins, bin_size).mean(axis=1)
