"""Loci to draw: configured regions plus test-set regions with the strongest observed CAGE.

Automatic loci are centred on the TSS of the test genes (TSS inside the target
bins of a test window; all windows when there is no test split) with the highest observed CAGE at the TSS (sum over the
CAGE tracks of the gene's strand, and unstranded ones, over the TSS bin ± 1,
from ``data.h5``), keeping loci apart so that none overlaps another. Without
genes or CAGE tracks, the target spans of the test windows with the most total
signal are used instead.

The loci table (TSV) has columns name, chrom, start, end, source
(``config``/``auto``) and note (why an automatic locus was chosen).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.data.h5 import read_meta, read_windows
from enformer_lite.data.genes import place_genes, read_genes
from enformer_lite.data.regions import Region
from enformer_lite.inference.signal import tss_sum

log = logging.getLogger(__name__)

LOCI_COLUMNS = ["name", "chrom", "start", "end", "source", "note"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Locus:
    """A named region to draw."""

    name: str
    region: Region
    source: str = "config"
    note: str = ""


def safe_name(text: str) -> str:
    """``text`` reduced to letters, digits, ``_``, ``.`` and ``-`` (usable in a file name)."""
    return _UNSAFE.sub("_", text).strip("_") or "locus"


def parse_locus(text: str, position: int) -> Locus:
    """``NAME=chrom:start-end`` or ``chrom:start-end`` (named ``locus<position>``)."""
    name, sep, spec = text.partition("=")
    if not sep:
        name, spec = f"locus{position}", text
    return Locus(safe_name(name), Region.parse(spec), "config")


def _test_targets(data: str | os.PathLike[str], rows: np.ndarray) -> np.ndarray:
    """Targets (n, target_length, T) float32 of the given rows of ``data.h5``."""
    with h5py.File(data, "r") as handle:
        return np.stack([handle["targets"][int(r)].astype(np.float32) for r in rows]) if len(rows) else np.zeros((0,))


def auto_loci(
    data: str | os.PathLike[str],
    genes: str | os.PathLike[str] | None,
    n: int,
    width: int | None = None,
    taken: Sequence[Region] = (),
) -> list[Locus]:
    """Up to ``n`` non-overlapping test loci of ``width`` bp (default: one window's target span).

    Loci overlapping a region in ``taken`` (e.g. the configured loci) are skipped.
    """
    if n <= 0:
        return []
    meta = read_meta(data)
    geometry = meta.geometry
    width = width or geometry.target_span
    windows = read_windows(data)
    test_rows = np.flatnonzero(windows["split"] == "test")
    if not len(test_rows):
        log.warning("%s: no windows with split 'test'; choosing loci among all windows", data)
        test_rows = np.arange(len(windows["split"]))
    targets = _test_targets(data, test_rows)
    cage = [t for t in meta.tracks if t.assay.upper() == "CAGE"]
    candidates: list[tuple[float, str, int, str]] = []  # (score, chrom, centre, note)
    if genes and cage:
        placed = place_genes(read_genes(genes, dict.fromkeys(windows["chrom"].tolist())), windows["chrom"][test_rows], windows["start"][test_rows],
                             meta.geometry)
        for gene in placed.itertuples():
            columns = [t.index for t in cage if t.strand not in ("+", "-") or t.strand == gene.strand]
            score = float(tss_sum(targets[gene.window][:, columns], np.array([gene.bin]), 1).sum())
            candidates.append((score, gene.chrom, int(gene.tss), f"gene {gene.gene_id}, CAGE at TSS {score:.3g}"))
    if not candidates:
        for k, row in enumerate(test_rows):
            score = float(targets[k].sum())
            centre = geometry.target_start(int(windows["start"][row])) + geometry.target_span // 2
            candidates.append((score, str(windows["chrom"][row]), centre, f"test window, total signal {score:.3g}"))
    candidates.sort(key=lambda c: -c[0])
    chosen: list[Locus] = []
    occupied = list(taken)
    for score, chrom, centre, note in candidates:
        start = max(0, (centre - width // 2) // meta.bin_size * meta.bin_size)
        region = Region(chrom, start, start + width)
        if any(r.chrom == chrom and r.start < region.end and region.start < r.end for r in occupied):
            continue
        name = safe_name(f"top{len(chosen) + 1}_{note.split(',')[0].replace('gene ', '')}")
        chosen.append(Locus(name, region, "auto", note))
        occupied.append(region)
        if len(chosen) == n:
            break
    return chosen


def write_loci(loci: Sequence[Locus], out: str | os.PathLike[str]) -> None:
    """Write the loci table atomically; InputError on duplicate names."""
    names = [locus.name for locus in loci]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"loci: duplicate name(s) {', '.join(dup)}")
    table = pd.DataFrame(
        [(x.name, x.region.chrom, x.region.start, x.region.end, x.source, x.note) for x in loci], columns=LOCI_COLUMNS
    )
    with atomic_output(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def locus_region(path: str | os.PathLike[str], name: str) -> Region:
    """Region of the locus ``name`` in a loci table; InputError naming the table when it has none."""
    loci = read_loci(path)
    for locus in loci:
        if locus.name == name:
            return locus.region
    raise InputError(f"{path}: no locus named {name!r} (loci: {', '.join(x.name for x in loci[:10])})")


def read_loci(path: str | os.PathLike[str]) -> list[Locus]:
    """Read a loci table written by :func:`write_loci`."""
    table_path = Path(path)
    if not table_path.is_file():
        raise InputError(f"{table_path}: loci table not found")
    table = pd.read_csv(table_path, sep="\t", dtype={"chrom": str, "note": str}, keep_default_na=False)
    missing = [c for c in LOCI_COLUMNS[:4] if c not in table.columns]
    if missing:
        raise InputError(f"{table_path}: loci table lacks column(s) {', '.join(missing)}")
    return [
        Locus(str(r.name), Region(str(r.chrom), int(r.start), int(r.end)), str(getattr(r, "source", "config")),
              str(getattr(r, "note", "")))
        for r in table.itertuples()
    ]
