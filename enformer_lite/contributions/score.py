"""Scoring one chunk of genes, gathering chunks, and evaluating against a truth table.

A chunk directory (one scatter job) holds ``scores.tsv`` (one row per gene/element pair,
columns :data:`~enformer_lite.contributions.methods.TABLE_COLUMNS`), ``tracks/<gene>.bw``
(gradient × input per base over each gene's window) and ``summary.json`` (counts, passes
and seconds). The gather step concatenates the tables in chunk order, writes the BEDPE of
the top links and collects the bigWigs into one directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enformer_lite.contributions.config import ContributionsConfig
from enformer_lite.contributions.evaluate import DISTANCE_EDGES, evaluate_pairs, match_truth, read_truth
from enformer_lite.contributions.methods import ACCESSIBILITY_ASSAYS, TABLE_COLUMNS, ContributionScorer, add_ranks, pick_tracks
from enformer_lite.contributions.outputs import read_scores, track_file_name, write_bedpe, write_track, write_tsv
from enformer_lite.contributions.regions import (
    ElementIndex,
    chunk_rows,
    harmonise_chroms,
    select_genes,
)
from enformer_lite.contributions.runner import make_runner
from enformer_lite.atomic import atomic_directory
from enformer_lite.data.candidates import read_candidates_bed
from enformer_lite.data.fasta import chrom_sizes, fetch_codes, open_fasta, resolve_chrom
from enformer_lite.data.genes import read_genes
from enformer_lite.errors import InputError
from enformer_lite.inference.trained import open_model
from enformer_lite.inference.tta import resolve_device

log = logging.getLogger(__name__)


def score_chunk(
    checkpoint: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    genes_path: str | os.PathLike[str],
    candidates_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    cfg: ContributionsConfig,
    head: str,
    chunk: int = 0,
    n_chunks: int = 1,
    data: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Score chunk ``chunk`` of ``n_chunks`` of the selected genes into the directory ``outdir``
    (which appears only when complete); returns the summary."""
    started = time.perf_counter()
    device = resolve_device(cfg.device)
    trained = open_model(checkpoint, head, device, data)
    model, geometry, tracks = trained.model, trained.geometry, trained.tracks
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    genes = read_genes(genes_path, sizes)
    chroms = tuple(resolve_chrom(c, sizes) or c for c in cfg.chroms)
    selected = select_genes(genes, cfg.genes, chroms, cfg.max_genes, str(genes_path))
    mine = chunk_rows(selected, chunk, n_chunks)
    index = ElementIndex(harmonise_chroms(read_candidates_bed(candidates_path), sizes, str(candidates_path)))
    runner = make_runner(model, head, geometry, geometry.centre_bins(cfg.tss_flank_bins), cfg.batch_size)
    scorer = ContributionScorer(
        runner,
        cfg,
        pick_tracks(tracks, cfg.tracks, ("CAGE",), "tracks"),
        pick_tracks(tracks, cfg.accessibility_tracks, ACCESSIBILITY_ASSAYS, "accessibility_tracks"),
        len(tracks),
    )
    log.info("chunk %d/%d: %d of %d selected genes", chunk + 1, n_chunks, len(mine), len(selected))

    with atomic_directory(outdir) as tmp:
        (tmp / "tracks").mkdir()
        tables, partial = [], 0
        for i in range(0, len(mine), cfg.batch_size):
            plans = []
            for _, gene in mine.iloc[i : i + cfg.batch_size].iterrows():
                plan, n_partial = index.plan(gene, geometry)
                plans.append(plan)
                partial += n_partial
            codes = np.stack([fetch_codes(fasta, p.chrom, p.window_start, p.window_start + geometry.window_length) for p in plans])
            for result in scorer.score(plans, codes):
                tables.append(result.table)
                if result.grad_input is not None:
                    write_track(tmp / "tracks" / track_file_name(result.plan.gene), sizes, result.plan.chrom,
                                result.plan.window_start, result.grad_input)
                log.info("%s: %d elements, TSS signal %.4g", result.plan.gene, len(result.table), result.signal)
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=TABLE_COLUMNS)
        write_tsv(tmp / "scores.tsv", table)
        summary = {
            "head": head,
            "chunk": chunk,
            "n_chunks": n_chunks,
            "genes": len(mine),
            "elements": len(table),
            "elements_partly_outside_window": partial,
            "sequences_run": runner.passes,
            "spliced": bool(getattr(runner, "verified", False)),
            "seconds": round(time.perf_counter() - started, 3),
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if partial:
        log.info("skipped %d gene/element pairs whose element sticks out of the gene's window", partial)
    log.info("scored %d genes, %d pairs, %d sequences in %.1f s", len(mine), len(table), runner.passes, summary["seconds"])
    return summary


def gather(
    chunk_dirs: Sequence[str | os.PathLike[str]],
    out_tsv: str | os.PathLike[str],
    out_bedpe: str | os.PathLike[str],
    out_tracks: str | os.PathLike[str],
    cfg: ContributionsConfig,
) -> pd.DataFrame:
    """Concatenate chunk tables (in the given order), write the table, the BEDPE and the track directory."""
    dirs = [Path(d) for d in chunk_dirs]
    table = pd.concat([read_scores(d / "scores.tsv") for d in dirs], ignore_index=True)
    table = add_ranks(table, cfg.rank_by)[TABLE_COLUMNS]  # ``rank`` follows this step's rank_by
    dup = table.duplicated(["gene", "element"])
    if dup.any():
        raise InputError(f"gene {table['gene'][dup].iloc[0]} appears in more than one chunk of {', '.join(map(str, dirs))}")
    files = sorted((f for d in dirs for f in (d / "tracks").glob("*.bw")), key=lambda f: f.name)
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise InputError("two chunks wrote a track of the same name")
    write_tsv(out_tsv, table)
    n_links = write_bedpe(out_bedpe, table, cfg.rank_by, cfg.bedpe_top, cfg.bedpe_promoters)
    with atomic_directory(out_tracks) as tmp:
        for file in files:
            shutil.copy2(file, tmp / file.name)
    log.info("%d pairs of %d genes; %d links in %s; %d tracks", len(table), table["gene"].nunique(), n_links, out_bedpe, len(files))
    return table


def evaluate_files(
    scores: Mapping[str, str | os.PathLike[str]],
    truth: Mapping[str, str | os.PathLike[str]],
    out: str | os.PathLike[str],
    edges: Sequence[int] = DISTANCE_EDGES,
) -> pd.DataFrame:
    """Metrics of every genome that has both a scores table and a truth table, written to ``out``."""
    missing = sorted(set(scores) ^ set(truth))
    if missing:
        raise InputError(f"contributions evaluate: genome(s) {', '.join(missing)} need both --scores and --truth")
    pairs = {genome: match_truth(read_scores(scores[genome]), read_truth(truth[genome]), genome) for genome in scores}
    result = evaluate_pairs(pairs, edges=edges)
    write_tsv(out, result)
    return result
