"""Gene TSSs (BED, GTF, GFF3) and their placement in the target bins of windows."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.data.annotation import annotation_format, read_annotation_genes
from enformer_lite.data.bed import bed_records, require_unique
from enformer_lite.data.fasta import resolve_chrom
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.errors import InputError

GENE_COLUMNS = ["chrom", "tss", "end", "gene_id", "score", "strand"]
MAX_LOGGED = 20  # skipped genes named one by one in the log; the rest are counted

log = logging.getLogger(__name__)


def read_genes_bed(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read BED6 ``chrom, start, end, id, score, strand``; columns as in :data:`GENE_COLUMNS`.

    A 1-bp interval is the TSS itself. A longer one is a gene body: its TSS is ``start`` on
    ``+`` (and ``.``) and ``end − 1`` on ``−``; such rows are counted in the log. Raises
    InputError naming the file and line for a short row, a non-integer coordinate, a strand
    other than ``+``/``-``/``.`` or a duplicate gene id.
    """
    bed = Path(path)
    rows = []
    bodies = 0
    for line_no, fields, start, end in bed_records(bed, 6, "genes BED"):
        strand = fields[5]
        if strand not in ("+", "-", "."):
            raise InputError(f"{bed} line {line_no}: strand must be +, - or ., got {strand!r}")
        if end - start > 1:
            bodies += 1
            start = end - 1 if strand == "-" else start
        rows.append((fields[0], start, start + 1, fields[3], fields[4], strand))
    genes = pd.DataFrame(rows, columns=GENE_COLUMNS)
    require_unique(genes["gene_id"], bed, "gene")
    if bodies:
        log.info("%s: %d of %d rows are gene bodies (> 1 bp); TSS = start on +, end - 1 on -", bed, bodies, len(genes))
    return genes


@dataclass(frozen=True)
class GeneFilter:
    """Which genes of an annotation count, and how their TSS is chosen (GTF/GFF3 only).

    Attributes:
        gene_types: keep only these gene types (e.g. ``protein_coding``); empty: all.
        transcript_tags: TSS of the first transcript tagged with the first of these tags
            (e.g. ``MANE_Select``, ``Ensembl_canonical``); empty: the gene record's start/end.
    """

    gene_types: tuple[str, ...] = ()
    transcript_tags: tuple[str, ...] = ()


def read_genes(
    path: str | os.PathLike[str], sizes: Mapping[str, int | None] | None = None, select: GeneFilter | None = None
) -> pd.DataFrame:
    """The one gene reader: BED (TSS or gene bodies), GTF or GFF3 (plain or gzip) → :data:`GENE_COLUMNS`.

    With ``sizes`` (FASTA chromosome sizes), chromosome names are harmonised with the FASTA
    (``chr1`` ↔ ``1``, ``chrM`` ↔ ``MT``); genes on a chromosome the FASTA lacks, or whose TSS
    lies past the chromosome end, are skipped, each named in the log with the file, and counted
    (:func:`place_on_fasta` also returns them). A size of None (a chromosome known only by name,
    e.g. from a ``data.h5``) skips the end check.
    """
    select = select or GeneFilter()
    fmt = annotation_format(path)
    if fmt == "bed":
        if select.gene_types or select.transcript_tags:
            log.warning("%s: gene_types/transcript_tags apply to GTF/GFF3 only; ignored for BED", path)
        genes = read_genes_bed(path)
    else:
        genes = read_annotation_genes(path, select.gene_types, select.transcript_tags)
    return genes if sizes is None else place_on_fasta(genes, sizes, path)[0]


SKIPPED_COLUMNS = ["gene_id", "chrom", "tss", "strand", "reason", "file"]


def place_on_fasta(
    genes: pd.DataFrame, sizes: Mapping[str, int | None], path: str | os.PathLike[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genes (:data:`GENE_COLUMNS`, read from ``path``) named as in the FASTA, and the skipped ones.

    Returns ``(kept, skipped)``: ``kept`` with FASTA chromosome names; ``skipped`` with
    :data:`SKIPPED_COLUMNS` (reason: chromosome not in the FASTA, or TSS past its end). The
    first :data:`MAX_LOGGED` skips are named in the log and all are counted.
    """
    mapping = {name: resolve_chrom(name, sizes) for name in genes["chrom"].unique()}
    chrom = genes["chrom"].map(mapping)
    unknown = chrom.isna().to_numpy()
    past_end = np.zeros(len(genes), dtype=bool)
    limit = chrom[~unknown].map(lambda c: sizes[c] if sizes[c] is not None else np.iinfo(np.int64).max)
    past_end[~unknown] = genes["tss"].to_numpy()[~unknown] >= limit.to_numpy(dtype=np.int64)
    skipped = []
    for reason, mask in (("chromosome not in the FASTA", unknown), ("TSS past the chromosome end", past_end)):
        if mask.any():
            rows = genes[mask]
            for row in rows.head(MAX_LOGGED).itertuples():
                log.warning("%s: skipped gene %s at %s:%d (%s)", path, row.gene_id, row.chrom, row.tss, reason)
            log.warning("%s: skipped %d gene(s) in all: %s", path, int(mask.sum()), reason)
            skipped.append(rows[["gene_id", "chrom", "tss", "strand"]].assign(reason=reason, file=str(path)))
    keep = ~(unknown | past_end)
    kept = genes.assign(chrom=chrom)[keep].reset_index(drop=True)
    return kept, (pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(columns=SKIPPED_COLUMNS))


def write_tss_bed(genes: pd.DataFrame, out: str | os.PathLike[str]) -> None:
    """Write genes as a BED6 of 1-bp TSS intervals (chrom, tss, tss + 1, id, score, strand), sorted, atomically."""
    table = genes.sort_values(["chrom", "tss", "gene_id"], kind="stable")
    with atomic_output(out) as tmp:
        table.assign(end=table["tss"] + 1)[GENE_COLUMNS].to_csv(tmp, sep="\t", header=False, index=False)


def place_genes(
    genes: pd.DataFrame,
    chrom: np.ndarray,
    start: np.ndarray,
    geometry: WindowGeometry,
) -> pd.DataFrame:
    """Assign each gene whose TSS lies in the target bins of a window to one window and bin.

    ``chrom``/``start`` (N,) describe the candidate windows (for example the test
    split). Where windows overlap, the window in which the TSS bin is closest to
    the centre is chosen. Returns ``genes`` rows that were placed, with added
    columns ``window`` (position in the given arrays) and ``bin`` (0..target_length-1).
    """
    bin_size, target_length = geometry.bin_size, geometry.target_length
    target_start = np.asarray(start, dtype=np.int64) + geometry.crop_bp
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
