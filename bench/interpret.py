"""Benchmark: the interpretation stage (ISM, attributions for motif discovery, PWM variant calls).

* ``ism``: ISM of one region (``--bases`` positions × 3 alternatives) at the published geometry
  (196,608 bp in, 896 × 128 bp out) with a randomly initialised model of ``--preset`` (speed does
  not depend on the weights), through the spliced runner (reference conv-tower features reused)
  and through plain full forward passes; the two must agree.
* ``gradient``: gradient of an element's readout w.r.t. its ``--seq-length`` bases, spliced (only
  the tower bins those bases reach recomputed with autograd) vs a full backward pass.
* ``pwm``: accuracy of the PWM REF-vs-ALT motif calls of ``explain-variants`` on a simulated VCF
  against the planted instances (model-free), for several hit thresholds.

* ``--oracle-elements N``: TF-MoDISco + TOMTOM + the truth report on the simulator's *exact* ISM
  (the oracle's expected tracks) over N elements: the ceiling of the motif pipeline with perfect
  attributions, checked against the planted instances of ``--oracle-genome`` (human, 13 of the 15
  motif types; mouse plants NEUROD1 and REST besides).

Usage: python bench/interpret.py [--preset tiny] [--bases 8] [--threads 2]
       [--world resources/ci] [--oracle-elements 150 [--oracle-world ci] [--oracle-genome human] [--only-oracle]]
       [--out bench/results/interpret.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from enformer_lite.contributions.runner import ModelRunner, SplicedRunner
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.sequence import one_hot
from enformer_lite.interpret.attribution import full_gradient, spliced_gradient
from enformer_lite.interpret.ism import ism_window
from enformer_lite.model import ModelConfig, build_model

GEOMETRY = WindowGeometry(196_608, 128, 896)
N_TRACKS = 8


def _model(preset: str) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset(preset, heads={"human": N_TRACKS})
    return build_model(cfg).eval()


def bench_ism(preset: str, bases: int) -> dict:
    model = _model(preset)
    codes = np.random.default_rng(0).integers(0, 4, GEOMETRY.window_length).astype(np.uint8)
    lo = GEOMETRY.centre_offset - bases // 2
    bins = GEOMETRY.centre_bins(1)
    out = {"bases": bases, "edits": 3 * bases}
    effects = {}
    for name, cls in (("spliced", SplicedRunner), ("full", ModelRunner)):
        runner = cls(model, "human", GEOMETRY, bins, batch_size=4)
        t0 = time.perf_counter()
        _, effects[name] = ism_window(runner, codes, lo, lo + bases)
        seconds = time.perf_counter() - t0
        out[name] = {"seconds": round(seconds, 2), "sequences_run": runner.passes,
                     "edits_per_s": round(3 * bases / seconds, 3)}
    out["speedup"] = round(out["full"]["seconds"] / out["spliced"]["seconds"], 2)
    out["max_abs_difference"] = float(np.abs(effects["spliced"] - effects["full"]).max())
    out["max_abs_effect"] = float(np.abs(effects["full"]).max())
    return out


def bench_gradient(preset: str, seq_length: int, repeats: int = 2) -> dict:
    model = _model(preset)
    codes = np.random.default_rng(1).integers(0, 4, (1, GEOMETRY.window_length)).astype(np.uint8)
    x = torch.from_numpy(one_hot(codes))
    lo = GEOMETRY.centre_offset - seq_length // 2
    bins = GEOMETRY.centre_bins(1)
    tracks = torch.arange(N_TRACKS)
    out: dict = {"seq_length": seq_length}
    grads = {}
    for name in ("spliced", "full"):
        t0 = time.perf_counter()
        for _ in range(repeats):
            if name == "spliced":
                grads[name] = spliced_gradient(model, "human", x, lo, lo + seq_length, bins, tracks)
            else:
                grads[name] = full_gradient(model, "human", x, lo, lo + seq_length, bins, GEOMETRY.crop, tracks)
        out[name] = {"seconds_per_sequence": round((time.perf_counter() - t0) / repeats, 3)}
    out["speedup"] = round(out["full"]["seconds_per_sequence"] / out["spliced"]["seconds_per_sequence"], 2)
    scale = float(grads["full"].abs().max())
    out["max_relative_difference"] = float((grads["spliced"] - grads["full"]).abs().max()) / max(scale, 1e-30)
    return out


def bench_pwm(world: Path) -> dict:
    import cyvcf2

    from enformer_lite.data.fasta import fetch_codes, open_fasta
    from enformer_lite.interpret.config import ExplainConfig
    from enformer_lite.interpret.explain import explain_variants
    from enformer_lite.interpret.pwm import PwmSet
    from enformer_lite.interpret.truth import explanation_accuracy, read_instances
    from enformer_lite.simulate.motifs import default_motifs

    vcf = world / "human" / "variants.vcf.gz"
    rows = [(v.CHROM, v.POS, v.ID, v.REF, alt, ".") for v in cyvcf2.VCF(str(vcf)) for alt in v.ALT]
    scored = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt", "top_genes"])
    fasta = open_fasta(world / "human.fa")
    instances = read_instances(world / "human" / "truth" / "elements.tsv", default_motifs())
    out = {"vcf": str(vcf), "alleles": len(scored), "settings": []}
    for p_value, margin, delta in ((1e-4, 6.0, 1.0), (1e-5, 6.0, 1.0), (1e-6, 1.0, 1.0), (1e-6, 3.0, 2.0)):
        cfg = ExplainConfig(p_value=p_value, max_margin_bits=margin, min_delta_bits=delta)
        t0 = time.perf_counter()
        table = explain_variants(scored, lambda c, s, e: fetch_codes(fasta, c, s, e),
                                 PwmSet.build(default_motifs(), p_value, margin), cfg, instances=instances)
        acc = explanation_accuracy(table)
        out["settings"].append({"p_value": p_value, "max_margin_bits": margin, "min_delta_bits": delta,
                                "seconds": round(time.perf_counter() - t0, 2),
                                **{m: (round(float(v), 4) if pd.notna(v) else None) for m, v in zip(acc["metric"], acc["value"])}})
    return out


def oracle_attributions(size: str, seed: int, n_elements: int, seq_length: int, genome: str = "human"):
    """ISM of the simulator's exact oracle over ``n_elements`` elements (spread over ``genome``'s
    candidates): effect of each alternative base on the expected tracks summed over the bins it
    changes, mean-centred over the 4 bases. Returns the attributions and the planted instances."""
    from enformer_lite.data.sequence import decode
    from enformer_lite.interpret.attribution import AttributionRegion, Attributions
    from enformer_lite.simulate import truth
    from enformer_lite.simulate.genomes import GENOMES
    from enformer_lite.simulate.world import SIZES, WorldConfig, build_genome

    index = list(GENOMES).index(genome)  # as enformer-lite simulate builds it
    world = build_genome(GENOMES[genome], index, getattr(SIZES[size], genome), seed, WorldConfig())
    elements = [(lay, res, e) for lay, res in zip(world.layouts, world.results) for e in lay.elements]
    picks = np.unique(np.linspace(0, len(elements) - 1, n_elements).round().astype(int))
    regions, oh, hyp = [], [], []
    for k in picks:
        lay, res, e = elements[k]
        start = (e.start + e.end) // 2 - seq_length // 2
        codes = lay.codes[start : start + seq_length]
        effect = np.zeros((seq_length, 4))
        for p in range(seq_length):
            ref = decode(codes[p : p + 1])
            for b, base in enumerate("ACGT"):
                if base != ref and ref != "N":
                    eff = res.variant_effect(start + p, ref, base, 128)
                    effect[p, b] = eff.window_alt.sum() - eff.window_ref.sum()
        regions.append(AttributionRegion(e.id, e.kind, lay.name, start))
        oh.append(one_hot(codes))
        hyp.append(effect - effect.mean(axis=1, keepdims=True))
    attr = Attributions(regions, np.stack(oh).astype(np.float32), np.stack(hyp).astype(np.float32))
    return attr, truth.motif_table(world.layouts, world.oracle.params.motifs)


def bench_oracle_motifs(size: str, seed: int, n_elements: int, seq_length: int, genome: str = "human") -> dict:
    """TF-MoDISco + TOMTOM + the truth report on the oracle's exact ISM: the ceiling of the motif
    pipeline when attributions are perfect (a trained model's recall is at most about this)."""
    from enformer_lite.interpret.config import MotifConfig
    from enformer_lite.interpret.motifs import discover, match_patterns, seqlet_bed
    from enformer_lite.interpret.truth import motif_evaluation
    from enformer_lite.simulate.motifs import default_motifs

    t0 = time.perf_counter()
    attr, instances = oracle_attributions(size, seed, n_elements, seq_length, genome)
    t_attr = time.perf_counter() - t0
    cfg = MotifConfig(seq_length=seq_length)
    patterns = discover(attr, cfg)
    matches = match_patterns(patterns, list(default_motifs()))
    seqlets = seqlet_bed(patterns, attr)
    scanned = pd.DataFrame({"chrom": [r.chrom for r in attr.sequences], "start": [r.start for r in attr.sequences],
                            "end": [r.start + seq_length for r in attr.sequences]})
    metrics, per_motif = motif_evaluation(matches, seqlets, instances, scanned, cfg.q_threshold)
    best = matches[matches["rank"] == 1][["pattern", "n_seqlets", "target_name", "q_value"]]
    return {"world": size, "genome": genome, "seed": seed, "elements": len(attr.sequences), "seq_length": seq_length,
            "attribution_seconds": round(t_attr, 1), "seconds": round(time.perf_counter() - t0, 1),
            "metrics": {m: (None if pd.isna(v) else float(v)) for m, v in zip(metrics["metric"], metrics["value"])},
            "per_motif": per_motif.to_dict(orient="records"), "best_matches": best.to_dict(orient="records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--bases", type=int, default=8)
    parser.add_argument("--seq-length", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--world", default="resources/ci", help="simulated world with human/variants.vcf.gz and truth")
    parser.add_argument("--oracle-elements", type=int, default=0,
                        help="also run TF-MoDISco on the oracle's exact ISM over this many elements of a simulated world")
    parser.add_argument("--oracle-world", default="ci", help="world size for --oracle-elements (seed 7)")
    parser.add_argument("--oracle-genome", default="human", choices=["human", "mouse"],
                        help="simulated genome whose elements --oracle-elements scans")
    parser.add_argument("--only-oracle", action="store_true", help="run only the oracle motif benchmark")
    parser.add_argument("--out", default="bench/results/interpret.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                          "load_average": os.getloadavg()}, "preset": args.preset}
    if args.oracle_elements:
        result["oracle_motifs"] = bench_oracle_motifs(args.oracle_world, 7, args.oracle_elements, 200, args.oracle_genome)
        print(json.dumps(result["oracle_motifs"]["metrics"]), flush=True)
    if args.only_oracle:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        return
    result["ism"] = bench_ism(args.preset, args.bases)
    print(json.dumps(result["ism"]), flush=True)
    result["gradient"] = bench_gradient(args.preset, args.seq_length)
    print(json.dumps(result["gradient"]), flush=True)
    if (Path(args.world) / "human" / "variants.vcf.gz").is_file():
        result["pwm"] = bench_pwm(Path(args.world))
        print(json.dumps(result["pwm"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
