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
(:mod:`enformer_lite.cli.eval_variants`) stacks the tables of several cases.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.data.genes import read_genes
from enformer_lite.variants.store import file_tracks, open_scores, read_table

log = logging.getLogger(__name__)

CATEGORIES = ("promoter", "proximal", "distal")
_KEYS = ["chrom", "pos", "ref", "alt", "gene", "track"]


def _vcf_orientation(alleles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ref, alt, sign) of scored alleles in the VCF's REF → ALT orientation (flipped SNPs swapped back)."""
    flipped = alleles["flipped"].to_numpy(dtype=bool)
    ref = np.where(flipped, alleles["alt"], alleles["ref"])
    alt = np.where(flipped, alleles["ref"], alleles["alt"])
    return ref, alt, np.where(flipped, -1.0, 1.0)


def predicted_gene_effects(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, set[tuple[str, int, str, str]], list[str]]:
    """Predicted per-gene deltas in the truth's orientation.

    Returns (long table with chrom, pos, ref, alt, gene, track, predicted; the set of scored
    (chrom, pos, ref, alt); the gene-track ids).
    """
    with open_scores(path) as handle:
        tracks = file_tracks(handle)
        gene_tracks = [tracks[i].id for i in json.loads(handle.attrs["gene_tracks"])]
        alleles = read_table(handle["alleles"])
        genes = read_table(handle["genes"])
        delta = handle["gene_scores/delta"][:]
    ref, alt, sign = _vcf_orientation(alleles)
    scored = set(zip(alleles["vcf_chrom"], alleles["pos"].astype(int), ref, alt))
    rows = genes["allele"].to_numpy(dtype=np.int64)
    frames = [
        pd.DataFrame({
            "chrom": alleles["vcf_chrom"].to_numpy()[rows], "pos": alleles["pos"].to_numpy()[rows],
            "ref": ref[rows], "alt": alt[rows], "gene": genes["gene_id"].to_numpy(), "track": track,
            "predicted": sign[rows] * delta[:, j],
        })
        for j, track in enumerate(gene_tracks)
    ]
    long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*_KEYS, "predicted"])
    return long, scored, gene_tracks


def true_gene_effects(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Long table of exact per-gene CAGE deltas of the promoter/proximal/distal rows: keys, category, true."""
    table_path = Path(path)
    if not table_path.is_file():
        raise InputError(f"{table_path}: truth table not found")
    truth = pd.read_csv(table_path, sep="\t", dtype={"chrom": str, "ref": str, "alt": str, "gene": str})
    missing = [c for c in ("chrom", "pos", "ref", "alt", "gene", "category") if c not in truth.columns]
    delta_columns = [c for c in truth.columns if c.startswith("cage_delta_")]
    if missing or not delta_columns:
        raise InputError(f"{table_path}: not a variant truth table (missing {', '.join(missing) or 'cage_delta_<track> columns'})")
    truth = truth[truth["category"].isin(CATEGORIES)]
    long = truth.melt(id_vars=["chrom", "pos", "ref", "alt", "gene", "category"], value_vars=delta_columns,
                      var_name="track", value_name="true")
    long["track"] = long["track"].str.removeprefix("cage_delta_")
    return long


def _correlations(frame: pd.DataFrame) -> tuple[float, float]:
    if len(frame) < 3 or frame["predicted"].nunique() < 2 or frame["true"].nunique() < 2:
        return float("nan"), float("nan")
    pearson = stats.pearsonr(frame["predicted"], frame["true"]).statistic
    spearman = stats.spearmanr(frame["predicted"], frame["true"]).statistic
    return float(pearson), float(spearman)


def on_strand(truth: pd.DataFrame, genes_bed: str | os.PathLike[str], tracks: dict[str, str]) -> pd.DataFrame:
    """Truth rows whose track is unstranded or on the gene's strand (``tracks``: id → strand)."""
    genes = read_genes(genes_bed)
    strand = dict(zip(genes["gene_id"].astype(str), genes["strand"]))
    track_strand = truth["track"].map(tracks)
    return truth[(track_strand == ".") | (track_strand == truth["gene"].map(strand))]


def evaluate_variant_effects(
    scores: str | os.PathLike[str], truth: str | os.PathLike[str], genes_bed: str | os.PathLike[str]
) -> pd.DataFrame:
    """Correlation of predicted and exact TSS effects per category and CAGE track (see the module docstring)."""
    predicted, scored, gene_tracks = predicted_gene_effects(scores)
    with open_scores(scores) as handle:
        strands = {t.id: t.strand for t in file_tracks(handle)}
    exact = true_gene_effects(truth)
    exact = exact[exact["track"].isin(gene_tracks)]
    exact = exact[[k in scored for k in zip(exact["chrom"], exact["pos"].astype(int), exact["ref"], exact["alt"])]]
    exact = on_strand(exact, genes_bed, strands)
    merged = exact.merge(predicted, on=_KEYS, how="inner")
    rows = []
    for category in (*CATEGORIES, "all"):
        in_category = merged if category == "all" else merged[merged["category"] == category]
        truth_rows = exact if category == "all" else exact[exact["category"] == category]
        for track in ("all", *gene_tracks):
            part = in_category if track == "all" else in_category[in_category["track"] == track]
            n_truth = len(truth_rows) if track == "all" else int((truth_rows["track"] == track).sum())
            pearson, spearman = _correlations(part)
            rows.append({"category": category, "track": track, "n": len(part), "n_truth": n_truth,
                         "pearson": pearson, "spearman": spearman})
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
