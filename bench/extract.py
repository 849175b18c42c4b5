"""Benchmark: FASTA + bigWig → HDF5 extraction throughput against the floor of just reading the inputs.

For two synthetic genome sizes this measures, in one run:

- floor: read every chromosome of the FASTA with pyfaidx and every track's per-base values with
  pyBigWig (the least any extractor must do);
- extract: `windows` + per-chromosome `extract` + `merge`, as the workflow runs them (one process);
- random single-window reads from the resulting HDF5 (what the training DataLoader does per sample),
  beside one forward+backward step of the lite model on one window when the model package is present.

Usage: python bench/extract.py [--sizes-mb 8 32] [--tracks 8] [--out bench/results/extract.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import pyfaidx

from enformer_lite.data.extract import extract_chromosome, merge_parts
from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.data.windows import WindowSpec, assign_splits, tile_genome

SPEC = WindowSpec()  # 196,608 bp windows, stride 65,536, 896 bins of 128 bp
N_CHROMS = 4


def make_inputs(root: Path, size_mb: int, n_tracks: int, seed: int = 0) -> tuple[Path, Path]:
    """Random genome of ``size_mb`` Mb in 4 chromosomes and ``n_tracks`` bigWigs at 16-bp resolution."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    chrom_len = size_mb * 1_000_000 // N_CHROMS
    sizes = {f"chr{i + 1}": chrom_len for i in range(N_CHROMS)}
    fasta = root / "genome.fa"
    with open(fasta, "w") as handle:
        for name, n in sizes.items():
            seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, n)]
            seq[n // 3 : n // 3 + 50_000] = ord("N")
            handle.write(f">{name}\n")
            text = seq.tobytes().decode()
            handle.write("\n".join(text[i : i + 60] for i in range(0, n, 60)) + "\n")
    rows = ["index\tid\tfile\tassay\tstrand\tstrand_pair\tsum_stat\tclip_soft\tclip\tscale\tdescription"]
    for t in range(n_tracks):
        path = root / f"t{t}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader(list(sizes.items()))
        for name, n in sizes.items():
            values = rng.gamma(0.3, 2.0, n // 16).astype(np.float64)
            bw.addEntries(name, 0, values=values, span=16, step=16)
        bw.close()
        rows.append(f"{t}\tt{t}\t{path}\tDNASE\t.\t{t}\tsum\t32\t\t1\tsynthetic")
    tracks = root / "tracks.tsv"
    tracks.write_text("\n".join(rows) + "\n")
    pyfaidx.Fasta(str(fasta))  # build the index outside the timed parts
    return fasta, tracks


def time_floor(fasta: Path, tracks: Path) -> float:
    t0 = time.perf_counter()
    fa = pyfaidx.Fasta(str(fasta), as_raw=True)
    for name in fa.keys():
        _ = fa[name][:]
    for spec in read_tracks_table(tracks):
        bw = pyBigWig.open(spec.file)
        for name, n in bw.chroms().items():
            _ = bw.values(name, 0, n, numpy=True)
        bw.close()
    return time.perf_counter() - t0


def time_extract(fasta: Path, tracks: Path, out: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    fa = open_fasta(fasta)
    chroms = list(fa.keys())
    windows, _ = tile_genome(fa, SPEC, assign_splits(chroms, valid=[chroms[1]], test=[chroms[2]]))
    specs = read_tracks_table(tracks)
    parts = []
    for chrom in chroms:
        part = out.parent / f"part_{chrom}.h5"
        extract_chromosome(str(fasta), specs, windows, chrom, SPEC, "bench", part)
        parts.append(str(part))
    merge_parts(parts, out, str(fasta))
    elapsed = time.perf_counter() - t0
    for part in parts:
        Path(part).unlink()
    return elapsed, len(windows)


def time_random_reads(data: Path, n: int = 200, seed: int = 0) -> float:
    """Median seconds to read one random window's sequence and targets from a fresh handle."""
    rng = np.random.default_rng(seed)
    times = []
    with h5py.File(data, "r") as h5:
        rows = rng.integers(0, h5["sequence"].shape[0], n)
        for row in rows:
            t0 = time.perf_counter()
            _ = h5["sequence"][row]
            _ = h5["targets"][row]
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_train_step() -> float | None:
    """Seconds for one forward+backward of the lite model on one window (None without the model)."""
    try:
        import torch

        from enformer_lite.model import ModelConfig, build_model
    except ImportError:
        return None
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_preset("lite", heads={"human": 8}, target_length=SPEC.target_length))
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, SPEC.length)), 4).float()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        model(x, head="human").sum().backward()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=Path("bench/work/extract"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/extract.json"))
    args = parser.parse_args()
    results = []
    for size in args.sizes_mb:
        root = args.workdir / f"{size}mb"
        fasta, tracks = make_inputs(root, size, args.tracks)
        floor = time_floor(fasta, tracks)
        elapsed, n_windows = time_extract(fasta, tracks, root / "data.h5")
        read = time_random_reads(root / "data.h5")
        bp = size * 1_000_000
        row = {
            "genome_mb": size, "tracks": args.tracks, "windows": n_windows,
            "floor_s": round(floor, 2), "extract_s": round(elapsed, 2),
            "extract_bp_per_s": round(bp / elapsed), "floor_bp_per_s": round(bp / floor),
            "extract_windows_per_s": round(n_windows / elapsed, 1),
            "extract_over_floor": round(elapsed / floor, 2),
            "h5_bytes": (root / "data.h5").stat().st_size,
            "random_window_read_ms": round(read * 1000, 3),
        }
        results.append(row)
        print(json.dumps(row))
        shutil.rmtree(root)
    step = time_train_step()
    summary = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "window": {"length": SPEC.length, "stride": SPEC.stride, "target_length": SPEC.target_length},
        "runs": results,
        "lite_train_step_s": None if step is None else round(step, 3),
    }
    if step is not None:
        summary["train_step_over_window_read"] = round(step / (results[-1]["random_window_read_ms"] / 1000))
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
