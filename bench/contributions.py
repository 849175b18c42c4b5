"""Benchmark: throughput of ``enformer-lite contributions score`` (genes/s, elements/s).

A random genome with genes every 150 kb and candidate elements (300-500 bp, about 60 per Mb,
the density of the demo world) is scored end to end by :func:`score_chunk` with a randomly
initialised model of the chosen preset (speed does not depend on the weights) at the
published geometry (196,608 bp in, 896 x 128 bp out). Then, on one gene, the deletion passes
are timed with the fast spliced runner (reference conv-tower features reused, recomputed only
around each edit) and with plain full forward passes, to show what splicing saves.

Usage: python bench/contributions.py [--preset lite] [--genes 4] [--draws 2] [--threads 2]
       [--attention/--no-attention] [--out bench/results/contributions.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from enformer_lite.contributions.config import ContributionsConfig
from enformer_lite.contributions.methods import ContributionScorer
from enformer_lite.contributions.regions import ElementIndex
from enformer_lite.data.candidates import read_candidates_bed
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.contributions.runner import ModelRunner, SplicedRunner
from enformer_lite.contributions.score import score_chunk
from enformer_lite.data.fasta import fetch_codes, open_fasta
from enformer_lite.model import ModelConfig, build_model
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.data.genes import read_genes_bed

GEOMETRY = WindowGeometry(196_608, 128, 896)
TRACKS = [
    TrackSpec(0, "DNASE_a", "a.bw", assay="DNASE"),
    TrackSpec(1, "DNASE_b", "b.bw", assay="DNASE"),
    TrackSpec(2, "CAGE_a", "c.bw", assay="CAGE"),
    TrackSpec(3, "CAGE_b", "d.bw", assay="CAGE"),
]
GENE_SPACING = 150_000
ELEMENTS_PER_MB = 60


def make_world(root: Path, n_genes: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """FASTA, genes BED and candidates BED of a random one-chromosome genome."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    length = GEOMETRY.window_length + n_genes * GENE_SPACING
    seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, length)].tobytes().decode()
    fasta = root / "genome.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n")
    tss = GEOMETRY.window_length // 2 + GENE_SPACING * np.arange(n_genes)
    genes = root / "genes.bed"
    genes.write_text("".join(f"chr1\t{t}\t{t + 1}\tgene{i}\t0\t+\n" for i, t in enumerate(tss)))
    n_elements = int(length / 1e6 * ELEMENTS_PER_MB)
    starts = np.sort(rng.choice(np.arange(0, length - 600, 600), size=n_elements, replace=False))
    ends = starts + rng.integers(300, 501, size=n_elements)
    candidates = root / "candidates.bed"
    candidates.write_text("".join(f"chr1\t{s}\t{e}\tel{i}\n" for i, (s, e) in enumerate(zip(starts, ends))))
    return fasta, genes, candidates


def make_checkpoint(path: Path, preset: str, attention: bool) -> torch.nn.Module:
    """A randomly initialised model saved in the training-checkpoint layout."""
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset(preset, heads={"human": len(TRACKS)}, target_length=GEOMETRY.target_length,
                                  attention=attention)
    model = build_model(cfg)
    meta = {"window_length": GEOMETRY.window_length, "bin_size": GEOMETRY.bin_size,
            "target_length": GEOMETRY.target_length, "tracks": [dataclasses.asdict(t) for t in TRACKS]}
    torch.save({"hyper_parameters": {"model_config": cfg.to_dict(), "track_ids": {"human": [t.id for t in TRACKS]},
                                     "data_meta": {"human": meta}},
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return model.eval()


def time_deletions(model: torch.nn.Module, fasta: Path, genes: Path, candidates: Path, cfg: ContributionsConfig) -> dict:
    """Seconds per edited sequence on the first gene, spliced vs full forward passes."""
    gene = read_genes_bed(genes).iloc[0]
    plan, _ = ElementIndex(read_candidates_bed(candidates)).plan(gene, GEOMETRY)
    codes = fetch_codes(open_fasta(fasta), "chr1", plan.window_start, plan.window_start + GEOMETRY.window_length)[None]
    out = {"elements": len(plan.elements)}
    for name, cls in (("spliced", SplicedRunner), ("full", ModelRunner)):
        runner = cls(model, "human", GEOMETRY, GEOMETRY.centre_bins(cfg.tss_flank_bins), cfg.batch_size)
        scorer = ContributionScorer(runner, dataclasses.replace(cfg, methods=("deletion",)), TRACKS[2:], TRACKS[:2], len(TRACKS))
        started, cpu = time.perf_counter(), time.process_time()
        scorer.score([plan], codes)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        out[name] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "sequences": runner.passes,
                     "seconds_per_sequence": round(seconds / runner.passes, 3)}
    out["speedup"] = round(out["full"]["seconds"] / out["spliced"]["seconds"], 2)
    out["cpu_speedup"] = round(out["full"]["cpu_seconds"] / out["spliced"]["cpu_seconds"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--attention", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--genes", type=int, default=4)
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="do not time full forward passes")
    parser.add_argument("--work", default="bench/work/contributions")
    parser.add_argument("--out", default="bench/results/contributions.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    fasta, genes, candidates = make_world(work, args.genes)
    model = make_checkpoint(work / "model.ckpt", args.preset, args.attention)
    cfg = ContributionsConfig(deletion_draws=args.draws, batch_size=args.batch_size, device="cpu")

    cpu = time.process_time()
    summary = score_chunk(work / "model.ckpt", fasta, genes, candidates, work / "chunk", cfg, "human")
    cpu = time.process_time() - cpu
    result = {
        "model": f"{args.preset} ({'transformer' if args.attention else 'CNN-only'}), random weights",
        "geometry": dataclasses.asdict(GEOMETRY),
        "threads": args.threads,
        "draws": args.draws,
        "batch_size": args.batch_size,
        "end_to_end": {
            **summary,
            "genes_per_s": round(summary["genes"] / summary["seconds"], 4),
            "elements_per_s": round(summary["elements"] / summary["seconds"], 3),
            "seconds_per_gene": round(summary["seconds"] / summary["genes"], 2),
            "cpu_seconds": round(cpu, 1),
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if not args.skip_full:
        result["deletion_one_gene"] = time_deletions(model, fasta, genes, candidates, cfg)
    print(json.dumps(result, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
