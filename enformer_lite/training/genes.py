"""Gene TSS annotation (BED6) and its placement in the target bins of windows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from enformer_lite.bed import bed_records, require_unique
from enformer_lite.errors import InputError

GENE_COLUMNS = ["chrom", "tss", "end", "gene_id", "score", "strand"]


def read_genes_bed(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read BED6 ``chrom, tss, tss+1, id, score, strand``; columns as in :data:`GENE_COLUMNS`.

    Raises InputError naming the file and line for a short row, a non-integer
    coordinate, a strand other than ``+``/``-``/``.`` or a duplicate gene id.
    """
    bed = Path(path)
    rows = []
    for line_no, fields, start, end in bed_records(bed, 6, "genes BED"):
        if fields[5] not in ("+", "-", "."):
            raise InputError(f"{bed} line {line_no}: strand must be +, - or ., got {fields[5]!r}")
        rows.append((fields[0], start, end, fields[3], fields[4], fields[5]))
    genes = pd.DataFrame(rows, columns=GENE_COLUMNS)
    require_unique(genes["gene_id"], bed, "gene")
    return genes


def place_genes(
    genes: pd.DataFrame,
    chrom: np.ndarray,
    start: np.ndarray,
    window_length: int,
    bin_size: int,
    target_length: int,
) -> pd.DataFrame:
    """Assign each gene whose TSS lies in the target bins of a window to one window and bin.

    ``chrom``/``start`` (N,) describe the candidate windows (for example the test
    split). Where windows overlap, the window in which the TSS bin is closest to
    the centre is chosen. Returns ``genes`` rows that were placed, with added
    columns ``window`` (position in the given arrays) and ``bin`` (0..target_length-1).
    """
    crop = (window_length // bin_size - target_length) // 2
    target_start = np.asarray(start, dtype=np.int64) + crop * bin_size
    centre = (target_length - 1) / 2
    chosen_window = np.full(len(genes), -1, dtype=np.int64)
    chosen_bin = np.full(len(genes), -1, dtype=np.int64)
    chrom = np.asarray(chrom).astype(str)
    for name in np.unique(chrom):
        on_chrom = np.flatnonzero(chrom == name)
        gene_rows = np.flatnonzero(genes["chrom"].to_numpy() == name)
        if not len(gene_rows):
            continue
        tss = genes["tss"].to_numpy()[gene_rows]
        bins = (tss[:, None] - target_start[on_chrom][None, :]) // bin_size  # (genes, windows)
        inside = (bins >= 0) & (bins < target_length)
        distance = np.where(inside, np.abs(bins - centre), np.inf)
        best = distance.argmin(axis=1)
        placed = np.isfinite(distance[np.arange(len(gene_rows)), best])
        chosen_window[gene_rows[placed]] = on_chrom[best[placed]]
        chosen_bin[gene_rows[placed]] = bins[np.arange(len(gene_rows)), best][placed]
    out = genes.assign(window=chosen_window, bin=chosen_bin)
    return out[out["window"] >= 0].reset_index(drop=True)
