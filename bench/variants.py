"""Benchmark: variant scoring throughput against a per-variant loop; gather and evaluation memory at scale.

Scoring. On a synthetic genome (random ACGT) with synthetic SNP VCFs at one SNP per ``--spacing``
bp on average (50 bp by default: about five SNPs per 256-bp grid cell), each case in its own process:

- ``loop``: per variant, kipoiseq ``VariantSeqExtractor`` builds the alternative window (and
  ``FastaStringExtractor`` the reference), each is one-hot encoded and the model is called once
  for the reference and once for the alternative (batch of 1), then SAD per track;
  the first ``--loop-variants`` variants of the smallest VCF;
- ``scorer, grid 1``: ``score-variants`` as the workflow runs it (VCF → every output file),
  windows centred on each variant as in the loop, so only batching differs (``--grid1-variants``);
- ``scorer``: the same with the centring grid ``--grid``, so variants in one grid cell share
  their reference prediction; for each VCF size (``--sizes``).

The model is a very small EnformerLite (``MODEL`` below: 12 channels, one transformer layer of
two heads, 16-bp bins, 1,024-bp windows, 32 target bins, 8 tracks, 3,740 parameters) with random
weights: cost per forward pass is what matters, not accuracy. Both paths run the same model on
the same windows; the run checks that the loop's and the scorer's (grid 1) SAD agree.

Scale (``--scale 1000000 10000000``). For N synthetic SNPs on 4 contigs: a bgzipped VCF, the score
files of ``--scale-chunks`` chunk jobs (as ``score-variants --part`` writes them: 2 tracks, one of
them a CAGE gene track, one gene row per ``--gene-every`` scored alleles, 2 % of the alleles
skipped), the simulator-style truth table of the gene rows and a genes BED of 20,000 genes. Then,
each in its own child process whose peak RSS is ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a
fresh parent: ``gather`` = ``gather-variants`` (HDF5 + TSV tables + annotated VCF + tabix) and
``eval`` = ``eval-variants``. Inputs are cached under ``bench/work/variants/scale_N``.

Usage: python bench/variants.py [--sizes 20000 100000] [--loop-variants 1000] [--scale 1000000 10000000]
       [--threads 2] [--out bench/results/variants.json]
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
import pandas as pd
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


SCALE_TRACKS = [TrackSpec(0, "cage", "cage.bw", "CAGE", ".", 0, "sum", None, None, 1.0, "synthetic"),
                TrackSpec(1, "dnase", "dnase.bw", "DNASE", ".", 1, "sum", None, None, 1.0, "synthetic")]


def make_scale_inputs(root: Path, n: int, n_chunks: int, gene_every: int, seed: int = 0) -> dict[str, Path]:
    """VCF, part score files, truth table and genes BED for ``n`` synthetic SNPs (cached in ``root``)."""
    from enformer_lite.variants.store import ScoreWriter
    import pysam

    paths = {"vcf": root / "snps.vcf.gz", "truth": root / "truth.tsv", "genes": root / "genes.bed",
             "parts": root / "parts"}
    if (root / "done").exists():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    (root / "parts").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    per_contig = -(-n // 4)
    chrom = np.repeat(np.array([f"chr{i}" for i in range(1, 5)], dtype=object), per_contig)[:n]
    pos = np.tile(np.arange(per_contig, dtype=np.int64) * 10 + 1001, 4)[:n]
    ids = np.array([f"snp{k}" for k in range(n)], dtype=object)
    with open(root / "snps.vcf", "w") as handle:
        handle.write("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID=chr{i},length={per_contig * 10 + 2000}>\n" for i in range(1, 5))
                     + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for a in range(0, n, 1 << 20):
            b = min(n, a + (1 << 20))
            handle.write("".join(f"{c}\t{p}\t{i}\tA\tG\t.\t.\t.\n" for c, p, i in zip(chrom[a:b], pos[a:b].tolist(), ids[a:b])))
    pysam.tabix_compress(str(root / "snps.vcf"), str(paths["vcf"]), force=True)
    (root / "snps.vcf").unlink()
    genes = [f"g{j}" for j in range(20_000)]
    paths["genes"].write_text("".join(f"chr1\t{j}\t{j + 1}\t{g}\t0\t+\n" for j, g in enumerate(genes)))
    bounds = [k * n // n_chunks for k in range(n_chunks + 1)]
    truth_header = True
    categories = np.array(["promoter", "proximal", "distal", "background"], dtype=object)
    attrs = {"head": "human", "window_length": 1024, "bin_size": 16, "target_length": 32, "grid": 1, "settings": "{}"}
    for k in range(n_chunks):
        with ScoreWriter(root / "parts" / f"part{k}.h5", SCALE_TRACKS, [0], attrs) as writer:
            for a in range(bounds[k], bounds[k + 1], 1 << 19):
                b = min(bounds[k + 1], a + (1 << 19))
                local = np.arange(a, b) - bounds[k]
                skip = local % 50 == 49
                keep = ~skip
                m = int(keep.sum())
                cols = {"record": local[keep], "alt_index": np.zeros(m, np.int32), "chrom": chrom[a:b][keep],
                        "vcf_chrom": chrom[a:b][keep], "pos": pos[a:b][keep], "id": ids[a:b][keep],
                        "ref": np.full(m, "A", object), "alt": np.full(m, "G", object), "flipped": np.zeros(m, bool),
                        "window_start": pos[a:b][keep] - 513}
                first = writer.n_alleles
                writer.add_alleles(cols, rng.normal(size=(m, 4, len(SCALE_TRACKS))).astype(np.float32))
                ks = int(skip.sum())
                writer.add_skips({"record": local[skip], "alt_index": np.zeros(ks, np.int32), "chrom": chrom[a:b][skip],
                                  "pos": pos[a:b][skip], "id": ids[a:b][skip], "ref": np.full(ks, "A", object),
                                  "alt": np.full(ks, "G", object), "reason": np.full(ks, "ref_mismatch", object),
                                  "detail": np.full(ks, "FASTA has C", object)})
                rows = np.arange(0, m, gene_every)
                g = len(rows)
                gene_ids = np.array(genes, dtype=object)[(first + rows) % len(genes)]
                delta = rng.normal(size=(g, 1)).astype(np.float32)
                writer.add_genes({"allele": first + rows, "gene_id": gene_ids, "strand": np.full(g, "+", object),
                                  "tss": cols["pos"][rows], "distance": np.zeros(g, np.int64), "bin": np.full(g, 16, np.int32)},
                                 np.stack([delta, delta], axis=1))
                truth = pd.DataFrame({"chrom": cols["chrom"][rows], "pos": cols["pos"][rows], "ref": "A", "alt": "G",
                                      "gene": gene_ids, "category": categories[rows % 4],
                                      "cage_delta_cage": delta[:, 0] + rng.normal(size=g).astype(np.float32)})
                truth.to_csv(paths["truth"], sep="\t", index=False, header=truth_header, mode="w" if truth_header else "a",
                             float_format="%.4f")
                truth_header = False
            writer.file.attrs.update({"chunk": k, "n_chunks": n_chunks, "n_records": bounds[k + 1] - bounds[k],
                                      "chunk_regions": "[]"})
    (root / "done").write_text("")
    return paths


def run_gather(paths: dict[str, Path], out: Path) -> dict:
    """``gather-variants`` of the part files: gathered HDF5, TSV tables, annotated VCF."""
    from enformer_lite.variants.gather import gather_parts
    from enformer_lite.variants.outputs import write_outputs

    began = time.perf_counter()
    parts = sorted(paths["parts"].glob("part*.h5"))
    gather_parts(parts, f"{out}.h5")
    gathered = time.perf_counter() - began
    write_outputs(f"{out}.h5", paths["vcf"], out)
    return {"hdf5_seconds": gathered, "seconds": time.perf_counter() - began, "peak_rss_mb": peak_rss_mb()}


def run_eval(paths: dict[str, Path], h5: Path, out: Path) -> dict:
    """``eval-variants`` of the gathered file against the truth table."""
    from enformer_lite.variants.evaluate import evaluate_cases, write_evaluation

    began = time.perf_counter()
    table = evaluate_cases([("bench", h5, paths["truth"], paths["genes"])])
    write_evaluation(table, out)
    row = table[(table["category"] == "all") & (table["track"] == "all")].iloc[0]
    return {"seconds": time.perf_counter() - began, "peak_rss_mb": peak_rss_mb(), "matched": int(row["n"]),
            "pearson": float(row["pearson"]), "spearman": float(row["spearman"])}


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
    elif args.worker == "scorer":
        out = WORK / f"out_{args.size}_grid{args.grid}"
        result = run_scorer(paths["fasta"], paths[f"vcf{args.size}"], paths["ckpt"], args.grid, args.batch_size, out)
    elif args.worker == "gather":
        result = run_gather(paths, paths["root"] / "gathered")
    else:
        result = run_eval(paths, paths["root"] / "gathered.h5", paths["root"] / "eval.tsv")
    print(json.dumps(result))


def measure(argv: list[str]) -> None:
    """Run the worker ``argv`` as a child and add its peak RSS as this fresh parent sees it (RUSAGE_CHILDREN)."""
    done = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["child_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result))


def spawn(args: argparse.Namespace, paths: dict[str, Path], kind: str, size: int, grid: int = 0) -> dict:
    command = [sys.executable, __file__, "--measure", "--worker", kind, "--size", str(size), "--grid", str(grid),
               "--threads", str(args.threads), "--batch-size", str(args.batch_size),
               "--loop-variants", str(args.loop_variants), "--paths", json.dumps({k: str(v) for k, v in paths.items()})]
    load_before = os.getloadavg()[0]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Other processes on the machine slow every case alike only if the load stays put; record it.
    result["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def scale(args: argparse.Namespace, results: dict) -> None:
    """Gather and evaluation at each ``--scale`` size: time and peak RSS of each child process."""
    for n in args.scale:
        began = time.perf_counter()
        paths = make_scale_inputs(WORK / f"scale_{n}", n, args.scale_chunks, args.gene_every)
        paths["root"] = WORK / f"scale_{n}"
        made = time.perf_counter() - began
        gather = spawn(args, paths, "gather", n)
        evaluation = spawn(args, paths, "eval", n)
        results[f"gather_{n}"] = {"snps": n, "inputs_seconds": made, **gather}
        results[f"eval_{n}"] = {"snps": n, **evaluation}
        print(f"{n} SNPs: gather {gather['seconds']:.0f} s, peak {gather['child_peak_rss_mb']:.0f} MB; eval "
              f"{evaluation['seconds']:.0f} s ({evaluation['matched']} pairs), peak {evaluation['child_peak_rss_mb']:.0f} MB",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--spacing", type=int, default=50, help="mean bp between SNPs")
    parser.add_argument("--loop-variants", type=int, default=1000)
    parser.add_argument("--grid1-variants", type=int, default=20_000, help="VCF size of the grid-1 scorer case")
    parser.add_argument("--grid", type=int, default=256, help="centring grid of the sharing scorer (bp, ≤ window / 4)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", type=int, nargs="*", default=[1_000_000, 10_000_000], help="SNPs of the gather/eval cases")
    parser.add_argument("--scale-chunks", type=int, default=4)
    parser.add_argument("--gene-every", type=int, default=4, help="one gene row per this many scored alleles")
    parser.add_argument("--skip-scoring", action="store_true", help="only the gather/eval cases")
    parser.add_argument("--out", default="bench/results/variants.json")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["loop", "scorer", "gather", "eval"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure([a for a in sys.argv[1:] if a != "--measure"])
        return
    if args.worker:
        worker(args)
        return
    results: dict = {}
    if not args.skip_scoring:
        score(args, results)
    scale(args, results)
    results["settings"] = {"window": WINDOW, "target_bins": TARGET, "tracks": N_TRACKS, "model": MODEL,
                           "spacing_bp": args.spacing, "grid": args.grid, "batch_size": args.batch_size,
                           "threads": args.threads, "scale": args.scale, "scale_chunks": args.scale_chunks,
                           "scale_tracks": len(SCALE_TRACKS), "gene_every": args.gene_every,
                           "machine": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


def score(args: argparse.Namespace, results: dict) -> None:
    """The scoring cases: the loop, the scorer at grid 1 and at ``--grid``."""
    small = args.grid1_variants
    paths = make_inputs(WORK, sorted({small, *args.sizes}), args.spacing)
    results["loop"] = spawn(args, paths, "loop", small)
    print(f"loop: {results['loop']['variants_per_s']:.1f} variants/s, peak {results['loop']['peak_rss_mb']:.0f} MB", flush=True)
    results[f"scorer_{small}_grid1"] = spawn(args, paths, "scorer", small, grid=1)
    for size in sorted(args.sizes):
        results[f"scorer_{size}_grid{args.grid}"] = spawn(args, paths, "scorer", size, grid=args.grid)
    loop_sad = np.array(results["loop"].pop("sad"))
    grid1_sad = np.array(results[f"scorer_{small}_grid1"]["sad"])[: len(loop_sad)]
    for key, value in results.items():
        value.pop("sad", None)
        if key != "loop":
            value["speedup_vs_loop"] = value["variants_per_s"] / results["loop"]["variants_per_s"]
            print(f"{key}: {value['variants']} variants, {value['sequences']} sequences, {value['seconds']:.1f} s, "
                  f"{value['variants_per_s']:.1f} variants/s ({value['speedup_vs_loop']:.1f}x loop), "
                  f"peak {value['peak_rss_mb']:.0f} MB", flush=True)
    results["max_abs_sad_difference_loop_vs_grid1"] = float(np.abs(loop_sad - grid1_sad).max())
    print(f"max |SAD(loop) - SAD(scorer, grid 1)| = {results['max_abs_sad_difference_loop_vs_grid1']:.2e}")


if __name__ == "__main__":
    main()
