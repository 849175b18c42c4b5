"""Benchmark: FASTA + bigWig → HDF5 extraction: peak memory and time against the floor of just reading the inputs.

One synthetic genome: chr1 of ``--chrom-mb`` Mb (default 50) and chr2 of ``--small-mb`` Mb (the valid
split), with an N gap and a stretch without data on each; bigWigs at ``--span``-bp resolution so that
making them is fast. ``--files`` distinct bigWig files are named round-robin by the tracks table:
reading a track costs the same whichever file it is. For each track count in ``--tracks``:

- floor: read every chromosome of the FASTA with pyfaidx and every track's per-base values with
  pyBigWig in the pieces extraction reads (the least any extractor must do), in a child process;
- extract: ``enformer-lite extract`` per chromosome and ``enformer-lite merge``, each in its own child
  process as the workflow runs them: wall and CPU time (``os.wait4``) and peak RSS (VmHWM). On a
  shared machine CPU time is the steadier measure; the ratios to the floor are given in both;
- random single-window reads from the merged HDF5 (what the training DataLoader does per sample).

From these it extrapolates to the published 5,313 human tracks on hg38 (3.1 Gb; chr1 249 Mb): peak RSS of
the chr1 job (linear in chromosome length, from the two chromosomes of the largest track count), time
(linear in bases × tracks, from the two largest track counts) and the size of ``data.h5``.

Usage: python bench/extract.py [--tracks 8 100 500] [--chrom-mb 50] [--out bench/results/extract.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import pyfaidx

from enformer_lite.data.bigwig import CHUNK_BP
from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.h5 import TRACK_CHUNK
from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.data.windows import WindowSpec, assign_splits, tile_genome, write_bed

SPEC = WindowSpec()  # 196,608 bp windows, stride 65,536, 896 bins of 128 bp
HG38 = {"genome_mb": 3100.0, "chr1_mb": 248.956, "tracks": 5313}
HEADER = "index\tid\tfile\tassay\tstrand\tstrand_pair\tsum_stat\tclip_soft\tclip\tscale\tdescription"


def make_genome(root: Path, sizes: dict[str, int], n_files: int, span: int, seed: int = 0) -> tuple[Path, list[Path]]:
    """Random FASTA with an N gap per chromosome and ``n_files`` bigWigs of gamma noise at ``span``-bp steps."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    fasta = root / "genome.fa"
    with open(fasta, "w") as handle:
        for name, n in sizes.items():
            seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, n)]
            seq[n // 3 : n // 3 + 500_000] = ord("N")
            text = seq.tobytes().decode()
            handle.write(f">{name}\n" + "\n".join(text[i : i + 60] for i in range(0, n, 60)) + "\n")
    pyfaidx.Fasta(str(fasta))  # build the index outside the timed parts
    files = []
    for f in range(n_files):
        path = root / f"f{f}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader(list(sizes.items()))
        for name, n in sizes.items():
            gap = (n // 2) // span * span  # up to 1 Mb without data (NaN) from mid-chromosome
            for lo, hi in ((0, gap), (gap + min(1_000_000, n // 10) // span * span, n - n % span)):
                values = rng.gamma(0.3, 2.0, (hi - lo) // span).astype(np.float64)
                bw.addEntries(name, lo, values=values, span=span, step=span)
        bw.close()
        files.append(path)
    return fasta, files


def write_tracks(root: Path, files: list[Path], n_tracks: int) -> Path:
    """Tracks table of ``n_tracks`` tracks naming ``files`` round-robin."""
    rows = [HEADER] + [f"{t}\tt{t}\t{files[t % len(files)]}\tDNASE\t.\t{t}\tsum\t32\t\t1\tsynthetic"
                       for t in range(n_tracks)]
    path = root / f"tracks_{n_tracks}.tsv"
    path.write_text("\n".join(rows) + "\n")
    return path


def read_floor(fasta: str, tracks: str) -> None:
    """Read the FASTA once and every track's per-base values, in the pieces extraction reads."""
    fa = pyfaidx.Fasta(fasta, as_raw=True)
    for name in fa.keys():
        _ = fa[name][:]
    for spec in read_tracks_table(tracks):
        bw = pyBigWig.open(spec.file)
        for name, n in bw.chroms().items():
            for start in range(0, n, CHUNK_BP):
                _ = bw.values(name, start, min(start + CHUNK_BP, n), numpy=True)
        bw.close()


CHILD = """
import sys
import enformer_lite.cli.extract, enformer_lite.cli.merge
code = 0
if sys.argv[2] == "--floor":
    sys.path.insert(0, sys.argv[3])
    from extract import read_floor
    read_floor(sys.argv[4], sys.argv[5])
elif sys.argv[2] != "--baseline":
    from enformer_lite.cli import main
    code = main(sys.argv[2:])
status = open("/proc/self/status").read()
open(sys.argv[1], "w").write(status.split("VmHWM:")[1].split()[0])
raise SystemExit(code)
"""
"""A child that runs one CLI command (or the floor: ``--floor BENCH_DIR FASTA TRACKS``, or only the
imports: ``--baseline``) and writes its peak RSS (VmHWM, KiB) to the file named first. Each child
imports the same modules, so the floor and extraction carry the same start-up cost.

Read from /proc after exec rather than from ``wait4``'s ``ru_maxrss``, which also counts the
parent's pages that the child had between fork and exec."""


def run_child(args: list[str], log: Path) -> tuple[float, float, float]:
    """Run the CLI with ``args`` in a child process; returns its wall seconds, CPU seconds and peak RSS (MB)."""
    peak = log.with_suffix(".hwm")
    t0 = time.perf_counter()
    with open(log, "w") as handle:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(peak), *args], stdout=handle, stderr=handle)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code
    if code:
        raise RuntimeError(f"{' '.join(args[:1])} failed ({code}); see {log}:\n{log.read_text()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, int(peak.read_text()) / 1024


def geometry_args() -> list[str]:
    return ["--length", str(SPEC.length), "--stride", str(SPEC.stride), "--bin-size", str(SPEC.bin_size),
            "--target-length", str(SPEC.target_length), "--max-n-fraction", str(SPEC.max_n_fraction)]


def time_random_reads(data: Path, n: int = 200, seed: int = 0) -> float:
    """Median seconds to read one random window's sequence and targets."""
    rng = np.random.default_rng(seed)
    times = []
    with h5py.File(data, "r") as h5:
        for row in rng.integers(0, h5["sequence"].shape[0], n):
            t0 = time.perf_counter()
            _ = h5["sequence"][row]
            _ = h5["targets"][row]
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run_tracks(root: Path, fasta: Path, files: list[Path], bed: Path, sizes: dict[str, int], n_tracks: int,
               ) -> dict[str, object]:
    """One track count: floor, per-chromosome extract and merge (children), random reads."""
    tracks = write_tracks(root, files, n_tracks)
    floor_wall, floor_cpu, _ = run_child(["--floor", str(Path(__file__).parent), str(fasta), str(tracks)],
                                         root / "floor.log")
    jobs: dict[str, dict[str, float]] = {}
    parts = []
    for chrom in sizes:
        part = root / f"part_{chrom}.h5"
        wall, cpu, rss = run_child(["extract", "--fasta", str(fasta), "--tracks", str(tracks), "--windows", str(bed),
                                    "--chrom", chrom, "--genome", "bench", "--out", str(part), *geometry_args()],
                                   root / f"extract_{chrom}.log")
        jobs[chrom] = {"mb": sizes[chrom] / 1e6, "s": round(wall, 2), "cpu_s": round(cpu, 2),
                       "peak_rss_mb": round(rss)}
        parts.append(str(part))
    data = root / "data.h5"
    merge_s, merge_cpu, merge_rss = run_child(["merge", "--fasta", str(fasta), "--out", str(data), *parts],
                                              root / "merge.log")
    extract_s, extract_cpu = sum(j["s"] for j in jobs.values()), sum(j["cpu_s"] for j in jobs.values())
    with h5py.File(data) as h5:
        rows, chunks = h5["targets"].shape[0], h5["targets"].chunks
    row = {
        "tracks": n_tracks, "windows": rows, "targets_chunks": list(chunks),
        "floor_s": round(floor_wall, 2), "floor_cpu_s": round(floor_cpu, 2),
        "extract_s": round(extract_s, 2), "extract_cpu_s": round(extract_cpu, 2),
        "extract_over_floor": round(extract_s / floor_wall, 2),
        "extract_over_floor_cpu": round(extract_cpu / floor_cpu, 2),
        "jobs": jobs, "peak_rss_mb": max(j["peak_rss_mb"] for j in jobs.values()),
        "merge_s": round(merge_s, 2), "merge_cpu_s": round(merge_cpu, 2), "merge_peak_rss_mb": round(merge_rss),
        "h5_bytes": data.stat().st_size, "random_window_read_ms": round(time_random_reads(data) * 1000, 3),
    }
    for part in parts:
        Path(part).unlink()
    data.unlink()
    return row


def extrapolate(runs: list[dict], sizes: dict[str, int], baseline_mb: float) -> dict[str, float]:
    """Figures for 5,313 tracks × hg38 from the measured runs (see the module docstring)."""
    big, small = list(sizes)
    last = runs[-1]
    c_big, c_small = sizes[big] / 1e6, sizes[small] / 1e6
    rss_big, rss_small = last["jobs"][big]["peak_rss_mb"], last["jobs"][small]["peak_rss_mb"]
    slope = (rss_big - rss_small) / (c_big - c_small)  # MB of peak RSS per Mb of chromosome
    chr1_rss = rss_small + slope * (HG38["chr1_mb"] - c_small)
    mb = c_big + c_small
    if len(runs) >= 2:  # CPU seconds = mb × (a + b × tracks), from the two largest track counts
        lo, hi = runs[-2], runs[-1]
        per_track = (hi["extract_cpu_s"] - lo["extract_cpu_s"]) / (hi["tracks"] - lo["tracks"]) / mb
        floor_per_track = (hi["floor_cpu_s"] - lo["floor_cpu_s"]) / (hi["tracks"] - lo["tracks"]) / mb
    else:
        per_track = last["extract_cpu_s"] / last["tracks"] / mb
        floor_per_track = last["floor_cpu_s"] / last["tracks"] / mb
    fixed = max(last["extract_cpu_s"] / mb - per_track * last["tracks"], 0.0)
    floor_fixed = max(last["floor_cpu_s"] / mb - floor_per_track * last["tracks"], 0.0)
    t = HG38["tracks"]
    windows_per_mb = last["windows"] / mb
    return {
        "rss_mb_per_chrom_mb": round(slope, 2),
        "chr1_job_peak_rss_mb": round(chr1_rss),
        "import_baseline_rss_mb": round(baseline_mb),
        "extract_cpu_s_per_track_mb": round(per_track, 5),
        "floor_cpu_s_per_track_mb": round(floor_per_track, 5),
        "per_track_over_floor": round(per_track / floor_per_track, 2),
        "chr1_job_h": round(HG38["chr1_mb"] * (fixed + per_track * t) / 3600, 2),
        "genome_cpu_h": round(HG38["genome_mb"] * (fixed + per_track * t) / 3600, 1),
        "genome_floor_cpu_h": round(HG38["genome_mb"] * (floor_fixed + floor_per_track * t) / 3600, 1),
        "data_h5_gb": round(HG38["genome_mb"] * windows_per_mb * SPEC.target_length * t * 2 / 1e9, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[8, 100, 500])
    parser.add_argument("--chrom-mb", type=float, default=50, help="length of chr1 (Mb)")
    parser.add_argument("--small-mb", type=float, default=10, help="length of chr2 (Mb)")
    parser.add_argument("--files", type=int, default=8, help="distinct bigWig files")
    parser.add_argument("--span", type=int, default=16, help="bp per bigWig interval")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--out", type=Path, default=Path("bench/results/extract.json"))
    args = parser.parse_args()
    import tempfile

    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_extract_"))
    load_before = os.getloadavg()
    sizes = {"chr1": int(args.chrom_mb * 1e6), "chr2": int(args.small_mb * 1e6)}
    t0 = time.perf_counter()
    fasta, files = make_genome(root, sizes, args.files, args.span)
    made_s = time.perf_counter() - t0
    fa = open_fasta(fasta)
    windows, _ = tile_genome(fa, SPEC, assign_splits(list(sizes), valid=["chr2"], test=[]))
    bed = root / "windows.bed"
    with open(bed, "w") as handle:
        write_bed(windows, handle)
    _, _, baseline = run_child(["--baseline"], root / "baseline.log")
    runs = []
    try:
        for n_tracks in args.tracks:
            runs.append(run_tracks(root, fasta, files, bed, sizes, n_tracks))
            print(json.dumps(runs[-1]), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(root)
    summary = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "genome": {k: v / 1e6 for k, v in sizes.items()}, "bigwig_span_bp": args.span, "bigwig_files": args.files,
        "inputs_made_s": round(made_s, 1), "track_chunk": TRACK_CHUNK,
        "window": {"length": SPEC.length, "stride": SPEC.stride, "target_length": SPEC.target_length},
        "runs": runs, "hg38_5313": extrapolate(runs, sizes, baseline),
    }
    print(f"{'tracks':>6} {'floor s':>12} {'extract s':>12} {'ratio':>11} {'chr1 RSS':>9} {'chr2 RSS':>9} "
          f"{'merge s':>8} {'merge RSS':>9} {'read ms':>8}   (s: wall/CPU)")
    for r in runs:
        jobs = list(r["jobs"].values())
        print(f"{r['tracks']:>6} {r['floor_s']:>6}/{r['floor_cpu_s']:<5} {r['extract_s']:>6}/{r['extract_cpu_s']:<5} "
              f"{r['extract_over_floor']:>5}/{r['extract_over_floor_cpu']:<5} {jobs[0]['peak_rss_mb']:>6} MB "
              f"{jobs[1]['peak_rss_mb']:>6} MB {r['merge_s']:>8} {r['merge_peak_rss_mb']:>6} MB "
              f"{r['random_window_read_ms']:>8}")
    print(json.dumps(summary["hg38_5313"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
