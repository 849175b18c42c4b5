"""Predicted variant effects at TSSs against the simulator's exact ones (``enformer-lite eval-variants``).

The truth table (``truth/variants.tsv`` of the simulated world, see its README) has one row
per variant, ALT and gene in reach, with the exact change of the gene's expected CAGE
counts at its TSS per CAGE track (``cage_delta_<track>``) and a ``category``: ``promoter``
(within 1 kb of the TSS), ``proximal`` (≤ 20 kb, variant in a candidate element) or
``distal`` (> 20 kb, in an element). The prediction for the same (variant, ALT, gene,
track) is the per-gene ``delta`` of the score file (change of the predicted CAGE summed over
the TSS bin ± ``tss_half_bins``). Only tracks on the gene's strand (or unstranded) count.

Output: one row per case (scored VCF), category (promoter, proximal, distal, and ``all`` of them) and track
(each CAGE track, plus ``all`` pooling them): ``n`` matched (allele, gene, track) triples, ``pearson``,
``spearman``, and ``n_truth`` (truth triples of scored alleles, including genes outside the
target window, which have no prediction). Gene strands come from the genes BED. The command
(:mod:`enformer_lite.cli.eval_variants`) stacks the tables of several cases. Score file and truth
table are streamed through disk partitions, so memory stays flat in the number of variants.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.data.genes import read_genes
from enformer_lite.variants.correlate import MEMORY_ROWS, PairStore, Partitions
from enformer_lite.variants.store import file_tracks, iter_blocks, open_scores, read_table

log = logging.getLogger(__name__)

CATEGORIES = ("promoter", "proximal", "distal")
_KEYS = ["chrom", "pos", "ref", "alt", "gene", "track"]
_ALLELE = ["chrom", "pos", "ref", "alt"]


def _vcf_orientation(alleles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ref, alt, sign) of scored alleles in the VCF's REF → ALT orientation (flipped SNPs swapped back)."""
    flipped = alleles["flipped"].to_numpy(dtype=bool)
    ref = np.where(flipped, alleles["alt"], alleles["ref"])
    alt = np.where(flipped, alleles["ref"], alleles["alt"])
    return ref, alt, np.where(flipped, -1.0, 1.0)


def _oriented(handle: h5py.File, start: int, stop: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Allele rows ``start:stop`` as (chrom, pos, ref, alt) in the VCF's orientation, and their signs."""
    alleles = read_table(handle["alleles"], start, stop, ["vcf_chrom", "pos", "ref", "alt", "flipped"])
    ref, alt, sign = _vcf_orientation(alleles)
    return pd.DataFrame({"chrom": alleles["vcf_chrom"], "pos": alleles["pos"].astype(np.int64), "ref": ref, "alt": alt}), sign


def _predictions(handle: h5py.File, gene_tracks: list[str], parts: Partitions) -> None:
    """Scored alleles (``scored``) and predicted per-gene deltas in the truth's orientation (``predicted``:
    allele keys, gene, one ``predicted:<track>`` column per gene track) into ``parts``, a block at a time."""
    for start, stop in iter_blocks(handle, "alleles"):
        parts.add("scored", _oriented(handle, start, stop)[0].drop_duplicates())
    for start, stop in iter_blocks(handle, "genes"):
        rows = handle["genes/allele"][start:stop].astype(np.int64)
        first = int(rows.min())
        alleles, sign = _oriented(handle, first, int(rows.max()) + 1)
        frame = alleles.iloc[rows - first].reset_index(drop=True)
        frame["gene"] = handle["genes/gene_id"].asstr()[start:stop]
        delta = handle["gene_scores/delta"][start:stop]
        for j, track in enumerate(gene_tracks):
            frame[f"predicted:{track}"] = sign[rows - first] * delta[:, j]
        parts.add("predicted", frame)


def _truth(path: Path, gene_tracks: list[str], parts: Partitions, rows: int) -> list[str]:
    """The promoter/proximal/distal rows of the truth table (keys, gene, category, deltas of the gene
    tracks) into ``parts``, read ``rows`` at a time; returns the tracks the table has."""
    if not path.is_file():
        raise InputError(f"{path}: truth table not found")
    dtypes = {"chrom": str, "ref": str, "alt": str, "gene": str}
    header = pd.read_csv(path, sep="\t", nrows=0).columns
    missing = [c for c in ("chrom", "pos", "ref", "alt", "gene", "category") if c not in header]
    delta_columns = [c for c in header if c.startswith("cage_delta_")]
    if missing or not delta_columns:
        raise InputError(f"{path}: not a variant truth table (missing {', '.join(missing) or 'cage_delta_<track> columns'})")
    tracks = [t for t in gene_tracks if f"cage_delta_{t}" in delta_columns]
    columns = ["chrom", "pos", "ref", "alt", "gene", "category", *(f"cage_delta_{t}" for t in tracks)]
    for chunk in pd.read_csv(path, sep="\t", dtype=dtypes, usecols=columns, chunksize=rows):
        parts.add("truth", chunk[chunk["category"].isin(CATEGORIES)][columns])
    return tracks


def _long(frame: pd.DataFrame, prefix: str, tracks: list[str], name: str, ids: list[str]) -> pd.DataFrame:
    """Wide per-track columns ``<prefix><track>`` → rows (ids..., track, name)."""
    value_columns = [f"{prefix}{t}" for t in tracks]
    if not len(frame) or not value_columns:
        return pd.DataFrame(columns=[*ids, "track", name])
    long = frame.melt(id_vars=ids, value_vars=value_columns, var_name="track", value_name=name)
    long["track"] = long["track"].str.removeprefix(prefix)
    return long


def _join(parts: Partitions, i: int, tracks: list[str], gene_tracks: list[str], strand: Mapping[str, str],
          track_strand: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Partition ``i``: (truth rows of scored alleles on the track's strand, those rows matched with predictions)."""
    scored = parts.load("scored", i, _ALLELE).drop_duplicates()
    truth = parts.load("truth", i, ["chrom", "pos", "ref", "alt", "gene", "category"])
    exact = _long(truth, "cage_delta_", tracks, "true", ["chrom", "pos", "ref", "alt", "gene", "category"])
    exact = exact.astype({"pos": np.int64}).merge(scored.astype({"pos": np.int64}), on=_ALLELE, how="inner")
    on_strand = exact["track"].map(track_strand)
    exact = exact[(on_strand == ".") | (on_strand == exact["gene"].map(strand))]
    predicted = _long(parts.load("predicted", i, [*_ALLELE, "gene"]), "predicted:", gene_tracks, "predicted",
                      [*_ALLELE, "gene"])
    return exact, exact.merge(predicted.astype({"pos": np.int64}), on=_KEYS, how="inner")


def evaluate_variant_effects(
    scores: str | os.PathLike[str], truth: str | os.PathLike[str], genes_bed: str | os.PathLike[str],
    memory_rows: int = MEMORY_ROWS,
) -> pd.DataFrame:
    """Correlation of predicted and exact TSS effects per category and CAGE track (see the module docstring).

    Streams: the score file and the truth table are spread over disk partitions by allele
    (:class:`~enformer_lite.variants.correlate.Partitions`, about ``memory_rows / 4`` rows each),
    joined partition by partition, and the matched pairs are correlated by
    :class:`~enformer_lite.variants.correlate.PairStore`; memory does not grow with the table sizes.
    """
    truth_path = Path(truth)
    genes = read_genes(genes_bed)
    strand = dict(zip(genes["gene_id"].astype(str), genes["strand"]))
    with open_scores(scores) as handle, tempfile.TemporaryDirectory(prefix="eval-variants-") as tmp:
        all_tracks = file_tracks(handle)
        gene_tracks = [all_tracks[i].id for i in json.loads(handle.attrs["gene_tracks"])]
        track_strand = {t.id: t.strand for t in all_tracks}
        size = max(handle["genes/allele"].shape[0], handle["alleles/record"].shape[0],
                   truth_path.stat().st_size // 50 if truth_path.is_file() else 0)
        part_rows = max(1, memory_rows // 4)
        parts = Partitions(Path(tmp), max(1, math.ceil(size / part_rows)), _ALLELE)
        tracks = _truth(truth_path, gene_tracks, parts, part_rows)
        _predictions(handle, gene_tracks, parts)
        store, n_truth = PairStore(Path(tmp), memory_rows), Counter[tuple[str, str]]()
        for i in range(parts.n):
            exact, merged = _join(parts, i, tracks, gene_tracks, strand, track_strand)
            n_truth.update(zip(exact["category"], exact["track"]))
            for (category, track), group in merged.groupby(["category", "track"]):
                store.add((category, track), group["predicted"].to_numpy(np.float64), group["true"].to_numpy(np.float64))
        rows = []
        for category in (*CATEGORIES, "all"):
            for track in ("all", *gene_tracks):
                groups = [(c, t) for c in (CATEGORIES if category == "all" else (category,))
                          for t in (gene_tracks if track == "all" else (track,))]
                pearson, spearman = store.correlations(groups)
                rows.append({"category": category, "track": track, "n": store.count(groups),
                             "n_truth": sum(n_truth[g] for g in groups), "pearson": pearson, "spearman": spearman})
    return pd.DataFrame(rows)


def evaluate_cases(cases: Iterable[tuple[str, str | os.PathLike[str], str | os.PathLike[str], str | os.PathLike[str]]]) -> pd.DataFrame:
    """:func:`evaluate_variant_effects` of each ``(name, scores, truth, genes_bed)`` case, stacked.

    One row per case, category and track (columns ``name`` first, then those of
    :func:`evaluate_variant_effects`); the pooled-track result of every category is logged.
    """
    tables = []
    for name, scores, truth, genes in cases:
        table = evaluate_variant_effects(scores, truth, genes)
        tables.append(table.assign(name=name)[["name", *table.columns]])
        for row in table[table["track"] == "all"].itertuples():
            log.info("%s %s: n=%d of %d, Pearson %.3f, Spearman %.3f",
                     name, row.category, row.n, row.n_truth, row.pearson, row.spearman)
    return pd.concat(tables, ignore_index=True)


def write_evaluation(table: pd.DataFrame, out: str | os.PathLike[str]) -> None:
    """Write the table of :func:`evaluate_cases` as TSV atomically (4 decimals, NaN as ``NA``)."""
    with atomic_output(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f", na_rep="NA")
