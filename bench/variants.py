"""Benchmark: variant scoring throughput and peak memory against a straightforward per-variant loop.

On a synthetic genome (random ACGT) with synthetic SNP VCFs at one SNP per ``--spacing`` bp on
average (50 bp by default: about five SNPs per 256-bp grid cell), this measures in one run, each
case in its own process (so peak memory is its own):

- ``loop``: per variant, kipoiseq ``VariantSeqExtractor`` builds the alternative window (and
  ``FastaStringExtractor`` the reference), each is one-hot encoded and the model is called once
  for the reference and once for the alternative (batch of 1), then SAD per track;
  the first ``--loop-variants`` variants of the smallest VCF;
- ``scorer, grid 1``: ``score-variants`` as the workflow runs it (VCF → every output file),
  windows centred on each variant as in the loop, so only batching differs;
- ``scorer``: the same with the default centring grid, so variants in one grid cell share
  their reference prediction; for each VCF size (10k and 100k by default).

The model is a very small EnformerLite (``MODEL`` below: 12 channels, one transformer layer of
two heads, 16-bp bins, 1,024-bp windows, 32 target bins, 8 tracks, 3,740 parameters) with random
weights: cost per forward pass is what matters, not accuracy; a larger model makes the forward
pass a larger share of the time and shrinks the batching gain (not the sharing gain). Both paths run the same model on the same windows; the run
checks that the loop's and the scorer's (grid 1) SAD agree.

Usage: python bench/variants.py [--sizes 10000 100000] [--loop-variants 500] [--threads 2]
       [--out bench/results/variants.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from enformer_lite.model import ModelConfig, build_model
from enformer_lite.data.tracks import TrackSpec

WORK = Path("bench/work/variants")
WINDOW = 1024
TARGET = 32
N_TRACKS = 8
MODEL = dict(channels=12, num_transformer_layers=1, num_heads=2, key_size=4, channel_divisor=2,
             num_conv_tower=3, target_length=TARGET, heads={"human": N_TRACKS}, dropout=0.0)
TRACKS = [TrackSpec(i, f"t{i}", f"t{i}.bw", "CAGE" if i < 2 else "DNASE", ".", i, "sum", 32.0, None, 1.0, "synthetic")
          for i in range(N_TRACKS)]


def make_inputs(root: Path, sizes: list[int], spacing: int, seed: int = 0) -> dict[str, Path]:
    """Genome (one chromosome, long enough for the largest VCF), one SNP VCF per size, a checkpoint."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    length = max(sizes) * spacing + 2 * WINDOW
    codes = rng.integers(0, 4, length)
    text = np.frombuffer(b"ACGT", dtype=np.uint8)[codes].tobytes().decode()
    fasta = root / "genome.fa"
    with open(fasta, "w") as handle:
        handle.write(">chr1\n" + "\n".join(text[i : i + 60] for i in range(0, length, 60)) + "\n")
    paths = {"fasta": fasta}
    for n in sizes:
        positions = np.sort(rng.choice(np.arange(WINDOW, WINDOW + n * spacing), size=n, replace=False)) + 1
        lines = ["##fileformat=VCFv4.2", f"##contig=<ID=chr1,length={length}>", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
        for k, pos in enumerate(positions.tolist()):
            ref = text[pos - 1]
            alt = "ACGT"[("ACGT".index(ref) + 1 + k % 3) % 4]
            lines.append(f"chr1\t{pos}\tsnp{k}\t{ref}\t{alt}\t.\t.\t.")
        vcf = root / f"snps_{n}.vcf"
        vcf.write_text("\n".join(lines) + "\n")
        paths[f"vcf{n}"] = vcf
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(MODEL)
    model = build_model(cfg)
    ckpt = root / "model.ckpt"
    torch.save({
        "hyper_parameters": {
            "model_config": cfg.to_dict(), "track_ids": {"human": [t.id for t in TRACKS]},
            "data_meta": {"human": {"window_length": WINDOW, "bin_size": cfg.bin_size, "target_length": TARGET,
                                    "tracks": [t.__dict__ for t in TRACKS], "fingerprint": "bench"}},
        },
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
    }, ckpt)
    paths["ckpt"] = ckpt
    return paths


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_loop(fasta: Path, vcf: Path, ckpt: Path, n: int) -> dict:
    """The straightforward path: kipoiseq sequences, two model calls per variant."""
    from kipoiseq import Interval, Variant
    from kipoiseq.extractors import FastaStringExtractor, VariantSeqExtractor

    from enformer_lite.data.sequence import encode, one_hot
    from enformer_lite.inference import Untransform, open_model

    trained = open_model(ckpt, "human", "cpu")
    model = trained.model
    scale = Untransform(TRACKS, "native", trained.geometry.bin_size)
    reference = FastaStringExtractor(str(fasta))
    extractor = VariantSeqExtractor(reference_sequence=reference)
    records = [line.split("\t") for line in vcf.read_text().splitlines() if not line.startswith("#")][:n]
    sads = []
    began = time.perf_counter()
    with torch.inference_mode():
        for chrom, pos, _, ref, alt, *_ in records:
            variant = Variant(chrom, int(pos), ref, alt)
            interval = Interval(chrom, variant.start - WINDOW // 2, variant.start + WINDOW // 2)
            ref_x = torch.from_numpy(one_hot(encode(reference.extract(interval))))[None]
            alt_x = torch.from_numpy(one_hot(encode(extractor.extract(interval, [variant], anchor=variant.start))))[None]
            ref_y = scale(model(ref_x, head="human")[0].numpy())
            alt_y = scale(model(alt_x, head="human")[0].numpy())
            sads.append((alt_y.astype(np.float64) - ref_y).sum(axis=0))
    seconds = time.perf_counter() - began
    return {"variants": len(records), "seconds": seconds, "variants_per_s": len(records) / seconds,
            "peak_rss_mb": peak_rss_mb(), "sad": np.array(sads).tolist()}


def run_scorer(fasta: Path, vcf: Path, ckpt: Path, grid: int, batch_size: int, out: Path) -> dict:
    """``score-variants --out-prefix`` as one job: every output file, timed end to end."""
    from enformer_lite.variants.config import ScoreConfig
    from enformer_lite.variants.outputs import write_outputs
    from enformer_lite.inference import open_model
    from enformer_lite.variants.score import score_vcf

    began = time.perf_counter()
    trained = open_model(ckpt, "human", "cpu")
    cfg = ScoreConfig(grid=grid, batch_size=batch_size, gene_assays=())
    summary = score_vcf(vcf, fasta, trained, f"{out}.h5", cfg)
    scored = time.perf_counter() - began
    write_outputs(f"{out}.h5", vcf, out)
    seconds = time.perf_counter() - began
    import h5py

    with h5py.File(f"{out}.h5") as h5:
        sad = h5["scores/SAD"][:1000].tolist()
    return {"variants": summary["scored"], "sequences": summary["sequences"], "scoring_seconds": scored,
            "seconds": seconds, "variants_per_s": summary["scored"] / seconds, "peak_rss_mb": peak_rss_mb(), "sad": sad}


def worker(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    paths = {k: Path(v) for k, v in json.loads(args.paths).items()}
    if args.worker == "loop":
        result = run_loop(paths["fasta"], paths[f"vcf{args.size}"], paths["ckpt"], args.loop_variants)
    else:
        out = WORK / f"out_{args.size}_grid{args.grid}"
        result = run_scorer(paths["fasta"], paths[f"vcf{args.size}"], paths["ckpt"], args.grid, args.batch_size, out)
    print(json.dumps(result))


def spawn(args: argparse.Namespace, paths: dict[str, Path], kind: str, size: int, grid: int = 0) -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--size", str(size), "--grid", str(grid),
               "--threads", str(args.threads), "--batch-size", str(args.batch_size),
               "--loop-variants", str(args.loop_variants), "--paths", json.dumps({k: str(v) for k, v in paths.items()})]
    load_before = os.getloadavg()[0]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Other processes on the machine slow every case alike only if the load stays put; record it.
    result["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--spacing", type=int, default=50, help="mean bp between SNPs")
    parser.add_argument("--loop-variants", type=int, default=500)
    parser.add_argument("--grid", type=int, default=256, help="centring grid of the sharing scorer (bp, ≤ window / 4)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="bench/results/variants.json")
    parser.add_argument("--worker", choices=["loop", "scorer"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    paths = make_inputs(WORK, args.sizes, args.spacing)
    smallest = min(args.sizes)
    results = {"loop": spawn(args, paths, "loop", smallest)}
    print(f"loop: {results['loop']['variants_per_s']:.1f} variants/s, peak {results['loop']['peak_rss_mb']:.0f} MB", flush=True)
    results[f"scorer_{smallest}_grid1"] = spawn(args, paths, "scorer", smallest, grid=1)
    for size in sorted(args.sizes):
        results[f"scorer_{size}_grid{args.grid}"] = spawn(args, paths, "scorer", size, grid=args.grid)
    loop_sad = np.array(results["loop"].pop("sad"))
    grid1_sad = np.array(results[f"scorer_{smallest}_grid1"]["sad"])[: len(loop_sad)]
    for key, value in results.items():
        value.pop("sad", None)
        if key != "loop":
            value["speedup_vs_loop"] = value["variants_per_s"] / results["loop"]["variants_per_s"]
            print(f"{key}: {value['variants']} variants, {value['sequences']} sequences, {value['seconds']:.1f} s, "
                  f"{value['variants_per_s']:.1f} variants/s ({value['speedup_vs_loop']:.1f}x loop), "
                  f"peak {value['peak_rss_mb']:.0f} MB", flush=True)
    results["max_abs_sad_difference_loop_vs_grid1"] = float(np.abs(loop_sad - grid1_sad).max())
    results["settings"] = {"window": WINDOW, "target_bins": TARGET, "tracks": N_TRACKS, "model": MODEL,
                           "spacing_bp": args.spacing, "grid": args.grid, "batch_size": args.batch_size,
                           "threads": args.threads, "machine": platform.platform(), "torch": torch.__version__}
    print(f"max |SAD(loop) - SAD(scorer, grid 1)| = {results['max_abs_sad_difference_loop_vs_grid1']:.2e}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
