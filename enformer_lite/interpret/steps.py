"""The ``motifs``, ``pool-motif-evals`` and ``explain-variants`` steps: read the inputs, run the library, write
the files."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.interpret.config import ExplainConfig, MotifConfig

log = logging.getLogger(__name__)


def _spread(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` rows spread evenly over ``frame`` (all when n is 0)."""
    if n and len(frame) > n:
        frame = frame.iloc[np.unique(np.linspace(0, len(frame) - 1, n).round().astype(int))]
    return frame


def write_tsv(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Tab-separated with a header, 6 significant digits, ``NA`` for missing values, atomically."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def motif_files(
    checkpoint: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    candidates_path: str | os.PathLike[str] | None,
    outdir: str | os.PathLike[str],
    cfg: MotifConfig,
    head: str | None = None,
    genes_path: str | os.PathLike[str] | None = None,
    truth_path: str | os.PathLike[str] | None = None,
    logos: Sequence[str | os.PathLike[str]] = (),
    data: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Attributions → TF-MoDISco → TOMTOM; writes ``motifs.meme``, ``matches.tsv``, ``seqlets.bed``,
    ``sequences.tsv``, ``summary.json`` and, with ``truth_path``, ``eval.tsv`` + ``eval_motifs.tsv``
    into ``outdir``; returns the summary."""
    from enformer_lite.data.candidates import read_candidates_bed
    from enformer_lite.data.fasta import chrom_sizes, fetch_codes, open_fasta
    from enformer_lite.data.genes import read_genes
    from enformer_lite.inference.trained import open_model
    from enformer_lite.inference.tta import resolve_device
    from enformer_lite.interpret.attribution import AttributionRegion, attributions
    from enformer_lite.interpret.ism_io import summary_track_indices
    from enformer_lite.interpret.motifs import discover, match_patterns, seqlet_bed, write_motif_outputs, write_pattern_logos
    from enformer_lite.interpret.truth import motif_evaluation, read_instances
    from enformer_lite.simulate.motifs import default_motifs

    started = time.perf_counter()
    trained = open_model(checkpoint, head, resolve_device(cfg.device), data)
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    half = cfg.seq_length // 2
    regions = []
    if candidates_path:
        elements = read_candidates_bed(candidates_path)
        elements = _spread(elements[elements["chrom"].isin(sizes)].reset_index(drop=True), cfg.max_elements)
        regions += [AttributionRegion(str(e.element), "element", e.chrom, (int(e.start) + int(e.end)) // 2 - half)
                    for e in elements.itertuples()]
    if genes_path and cfg.promoters:
        genes = _spread(read_genes(genes_path, sizes), cfg.promoters)
        regions += [AttributionRegion(str(g.gene_id), "promoter", g.chrom, int(g.tss) - half) for g in genes.itertuples()]
    tracks = summary_track_indices(trained.tracks, cfg.tracks, "interpret.motifs.tracks")
    attr = attributions(trained.model, trained.head, trained.geometry, lambda c, s, e: fetch_codes(fasta, c, s, e),
                        regions, cfg.seq_length, tracks, cfg.attribution, cfg.readout_flank_bins, cfg.batch_size,
                        trained.device)
    t_attr = time.perf_counter() - started
    patterns = discover(attr, cfg)
    motifs = list(default_motifs())
    matches = match_patterns(patterns, motifs)
    seqlets = seqlet_bed(patterns, attr)
    out = Path(outdir)
    write_motif_outputs(out, patterns, matches, seqlets)
    scanned = pd.DataFrame({"chrom": [r.chrom for r in regions], "start": [r.start for r in regions],
                            "end": [r.start + cfg.seq_length for r in regions], "name": [r.name for r in regions],
                            "kind": [r.kind for r in regions]})
    write_tsv(out / "sequences.tsv", scanned)
    if logos:
        write_pattern_logos(logos, patterns, matches, cfg.q_threshold)
    summary: dict[str, Any] = {"sequences": len(regions), "attribution": cfg.attribution, "patterns": len(patterns),
                               "seqlets": len(seqlets), "attribution_seconds": round(t_attr, 3)}
    if truth_path:
        metrics, per_motif = motif_evaluation(matches, seqlets, read_instances(truth_path, motifs), scanned,
                                              cfg.q_threshold)
        write_tsv(out / "eval.tsv", metrics)
        write_tsv(out / "eval_motifs.tsv", per_motif)
        summary["truth"] = {m: (None if pd.isna(v) else float(v)) for m, v in zip(metrics["metric"], metrics["value"])}
    summary["seconds"] = round(time.perf_counter() - started, 3)
    with atomic_output(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n")
    log.info("motifs: %s", json.dumps(summary))
    return summary


def explain_files(
    scores_path: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    cfg: ExplainConfig,
    candidates_path: str | os.PathLike[str] | None = None,
    motifs_dir: str | os.PathLike[str] | None = None,
    truth_path: str | os.PathLike[str] | None = None,
    eval_out: str | os.PathLike[str] | None = None,
    q_threshold: float = 0.05,
) -> pd.DataFrame:
    """``explain.tsv`` for every scored allele of ``scores_path``; with ``truth_path`` (elements.tsv or
    motifs.tsv of the simulator) the ``true_instance`` column and, at ``eval_out``, the accuracy table
    (without truth that file only counts the variants)."""
    from enformer_lite.data.candidates import read_candidates_bed
    from enformer_lite.data.fasta import fetch_codes, open_fasta
    from enformer_lite.interpret.explain import explain_variants, read_scored
    from enformer_lite.interpret.pwm import PwmSet
    from enformer_lite.interpret.truth import explanation_accuracy, read_instances
    from enformer_lite.simulate.motifs import default_motifs

    fasta = open_fasta(fasta_path)
    motifs = default_motifs()
    pwms = PwmSet.build(motifs, cfg.p_value, cfg.max_margin_bits)
    scored = read_scored(scores_path, cfg.top_genes)
    elements = read_candidates_bed(candidates_path) if candidates_path else None
    seqlets = matches = None
    if motifs_dir:
        from enformer_lite.interpret.motifs import BED_COLUMNS

        bed = Path(motifs_dir) / "seqlets.bed"
        seqlets = pd.read_csv(bed, sep="\t", header=None, names=BED_COLUMNS) if bed.stat().st_size else None
        matches = pd.read_csv(Path(motifs_dir) / "matches.tsv", sep="\t")
    instances = read_instances(truth_path, motifs) if truth_path else None
    table = explain_variants(scored, lambda c, s, e: fetch_codes(fasta, c, s, e), pwms, cfg, elements, seqlets, matches,
                             instances, q_threshold)
    write_tsv(out, table)
    if eval_out:
        accuracy = explanation_accuracy(table) if instances is not None else pd.DataFrame(
            {"metric": ["variants", "truth"], "value": [len(table), "none given"]})
        write_tsv(eval_out, accuracy)
    log.info("explained %d alleles: %d disrupt, %d create a motif", len(table), int((table["motif_effect"] == "disrupted").sum()),
             int((table["motif_effect"] == "created").sum()))
    return table


def pooled_motif_files(
    motif_dirs: Mapping[str, str | os.PathLike[str]],
    out: str | os.PathLike[str],
    out_motifs: str | os.PathLike[str],
) -> pd.DataFrame:
    """World-level motif truth table from the ``eval.tsv`` + ``eval_motifs.tsv`` of each genome's
    ``enformer-lite motifs --truth`` directory (genome → directory): the metrics at ``out``, one row per
    planted motif at ``out_motifs`` (see :func:`~enformer_lite.interpret.truth.pool_motif_evaluations`);
    returns the metrics."""
    from enformer_lite.interpret.truth import pool_motif_evaluations, read_motif_eval

    metrics, per_motif = pool_motif_evaluations({g: read_motif_eval(d) for g, d in motif_dirs.items()})
    write_tsv(out, metrics)
    write_tsv(out_motifs, per_motif)
    log.info("pooled motif truth over %s: %s", ", ".join(motif_dirs),
             json.dumps({m: (None if pd.isna(v) else float(v)) for m, v in zip(metrics["metric"], metrics["value"])}))
    return metrics
