"""Model benchmark: enformer-lite against enformer-pytorch on CPU at identical hyperparameters.

Measures, each in a fresh subprocess (so that peak memory is that of one measurement only):

* lite size at 196,608 bp, training mode: forward+backward time per step for batch 1 and 2 with
  2 threads and batch 1 with 1 thread, sequences/s, CPU seconds per sequence, peak resident memory
  above the model's own, bytes kept for backward (saved activations), FLOPs per sequence
  (``torch.utils.flop_counter.FlopCounterMode``) and the resulting fraction of the machine's peak,
  estimated from a large float32 matmul timed in the same process around the model steps;
* full published size (``enformer`` preset), inference on one sequence: seconds, FLOPs, memory.

Run from the repository root:  ``python bench/model.py``  (about 8 minutes on 2 idle cores;
``--skip-full`` leaves out the full-size part). Writes ``bench/results/model.json``.
On a GPU: ``python bench/model.py --device cuda --bf16 --batches 1 4`` (bf16 autocast, as
training uses there; peak memory is the GPU's, and the peak is a bf16 matmul), written to
``bench/results/model_cuda_bf16.json``.
On a shared machine wall-clock times swing with other load: every timing is repeated and the best
and median are kept, and single-thread CPU seconds give a comparison that load hardly affects.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LENGTH = 196_608
THREADS = 2
LITE = dict(channels=96, layers=2, heads=4, key_size=32, divisor=16, dropout=0.2, tracks=8)


# ------------------------------------------------------------------------------------ worker side
def _build(impl: str, size: str) -> tuple[Any, Any]:
    """Model and a function x -> predictions (B, 896, tracks) for one implementation."""
    import torch  # noqa: F401

    if size == "lite":
        c = LITE
        hp = dict(channels=c["channels"], layers=c["layers"], heads=c["heads"], key_size=c["key_size"],
                  divisor=c["divisor"], dropout=c["dropout"], out={"human": c["tracks"]})
    else:
        hp = dict(channels=1536, layers=11, heads=8, key_size=64, divisor=128, dropout=0.4,
                  out={"human": 5313, "mouse": 1643})
    if impl == "enformer-lite":
        from enformer_lite.model import ModelConfig, build_model

        cfg = ModelConfig.from_preset(
            "enformer", channels=hp["channels"], num_transformer_layers=hp["layers"], num_heads=hp["heads"],
            key_size=hp["key_size"], channel_divisor=hp["divisor"], dropout=hp["dropout"], heads=hp["out"],
            target_length=896,
        )
        model = build_model(cfg)
        return model, lambda x: model(x, head="human")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from enformer_pytorch import Enformer

        model = Enformer.from_hparams(
            dim=hp["channels"], depth=hp["layers"], heads=hp["heads"], attn_dim_key=hp["key_size"],
            dim_divisible_by=hp["divisor"], dropout_rate=hp["dropout"], output_heads=hp["out"],
            target_length=896, num_downsamples=7,
        )
    return model, lambda x: model(x, head="human")


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _saved_mb(fn: Any, x: Any, params: set[int]) -> float:
    """MB of distinct non-parameter storages autograd keeps for backward after one forward."""
    import torch

    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in params:
            storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(x)
    del out
    return sum(storages.values()) / 2**20


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _matmul_gflops(n: int, repeats: int, device: Any = None, dtype: Any = None) -> float:
    """Best GFLOP/s of an (n, n) @ (n, n) product over ``repeats`` tries (float32 on the CPU)."""
    import torch

    device = device or torch.device("cpu")
    a = torch.randn(n, n, device=device, dtype=dtype or torch.float32)
    b = torch.randn(n, n, device=device, dtype=dtype or torch.float32)
    torch.mm(a, b)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def worker(task: dict[str, Any]) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(task["threads"])
    torch.manual_seed(0)
    device = torch.device(task.get("device", "cpu"))
    bf16 = bool(task.get("bf16"))
    # The peak is that of the arithmetic the model runs: bf16 tensor cores with autocast, else float32.
    peak_dtype = torch.bfloat16 if bf16 else torch.float32
    if task["kind"] == "matmul":
        return {"gflops": _matmul_gflops(8192 if device.type == "cuda" else 4096, 6, device, peak_dtype)}

    model, fn = _build(task["impl"], task["size"])
    model.to(device)
    batch, train = task["batch"], task["train"]
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (batch, LENGTH)), 4).float().to(device)
    model.train(train)
    base = _maxrss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_gpu = torch.cuda.memory_allocated(device)
    # Peak reference taken in the same process just before and after the timed steps, so that a
    # busy machine lowers it as it lowers the model's speed (its 50 MB stay below the steps' peak).
    peak_n = 8192 if device.type == "cuda" else 2048
    peak_before = _matmul_gflops(peak_n, 5, device, peak_dtype)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            if train:
                model.zero_grad(set_to_none=True)
                fn(x).float().mean().backward()
            else:
                with torch.no_grad():
                    fn(x)
        _sync(device)

    counter = FlopCounterMode(display=False)
    if task["flops_first"]:  # the counted step doubles as warm-up (full size: each step is slow)
        with counter:
            step()
    else:
        step()
    times, cpu_times = [], []
    for _ in range(task["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak_rss = _maxrss_mb() - base
    peak_gpu = torch.cuda.max_memory_allocated(device) - base_gpu if device.type == "cuda" else None
    peak_gflops = max(peak_before, _matmul_gflops(peak_n, 5, device, peak_dtype))
    if not task["flops_first"]:
        with counter:
            step()
    result = {
        "seconds": [round(t, 3) for t in times],
        "cpu_seconds": [round(t, 3) for t in cpu_times],
        "peak_rss_mb": round(peak_rss, 1),
        **({"peak_gpu_mb": round(peak_gpu / 2**20, 1)} if peak_gpu is not None else {}),
        "peak_matmul_gflops": round(peak_gflops, 1),
        "gflop_per_step": round(counter.get_total_flops() / 1e9, 2),
    }
    if train:
        params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            result["saved_for_backward_mb"] = round(_saved_mb(fn, x, params), 1)
    return result


# ------------------------------------------------------------------------------------ driver side
def run_task(task: dict[str, Any], wait_policy: str = "PASSIVE") -> dict[str, Any]:
    threads = str(task["threads"])
    # A fixed mmap threshold returns freed large blocks to the OS at once, so peak RSS tracks live tensors.
    # A passive OpenMP wait policy keeps idle threads from spinning, which on a busy machine costs
    # more than the computation itself.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": threads, "OMP_WAIT_POLICY": wait_policy,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(task)], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark task {task} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(task: dict[str, Any], wait_policy: str) -> dict[str, Any]:
    """Run one model task and add throughput, FLOPs per sequence and fraction of peak."""
    res = run_task(task, wait_policy)
    best, median = min(res["seconds"]), statistics.median(res["seconds"])
    batch = task["batch"]
    res.update(
        impl=task["impl"], batch=batch, threads=task["threads"],
        sequences_per_s_best=round(batch / best, 4), sequences_per_s_median=round(batch / median, 4),
        cpu_seconds_per_sequence=round(min(res["cpu_seconds"]) / batch, 3),
        gflop_per_sequence=round(res["gflop_per_step"] / batch, 2),
        fraction_of_peak=round(res["gflop_per_step"] / best / res["peak_matmul_gflops"], 4),
    )
    where = (f"{task['device']}{' bf16' if task.get('bf16') else ''}" if task.get("device", "cpu") != "cpu"
             else f"{task['threads']} thread(s)")
    memory = (f"GPU peak +{res['peak_gpu_mb']:.0f} MB" if "peak_gpu_mb" in res else f"peak +{res['peak_rss_mb']:.0f} MB")
    print(
        f"{task['size']:4s} {'fwd+bwd' if task['train'] else 'forward'} {task['impl']:16s} batch {batch}, "
        f"{where}: {res['sequences_per_s_best']:.3f} seq/s (median "
        f"{res['sequences_per_s_median']:.3f}), {res['cpu_seconds_per_sequence']:.2f} CPU s/seq, "
        f"{memory}, saved {res.get('saved_for_backward_mb', 0):.0f} MB, "
        f"{res['gflop_per_sequence']:.1f} GFLOP/seq, {100 * res['fraction_of_peak']:.1f}% of a "
        f"{res['peak_matmul_gflops']:.0f} GFLOP/s peak",
        flush=True,
    )
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per measurement (after one warm-up)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--full-repeats", type=int, default=2, help="timed full-size forward passes")
    parser.add_argument("--skip-full", action="store_true", help="leave out full-size inference")
    parser.add_argument("--omp-wait-policy", default="PASSIVE", choices=["PASSIVE", "ACTIVE"],
                        help="OMP_WAIT_POLICY of the measured processes (PASSIVE suits a shared machine)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N for the GPU figures")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (as training uses on a GPU)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/results/model.json (CPU) or model_<device>[_bf16].json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    import torch

    gpu = args.device != "cpu"
    if args.out is None:
        suffix = f"_{args.device.replace(':', '')}{'_bf16' if args.bf16 else ''}" if gpu or args.bf16 else ""
        args.out = ROOT / "bench" / "results" / f"model{suffix}.json"
    on = {"device": args.device, "bf16": args.bf16}
    load_before = os.getloadavg()
    policy = args.omp_wait_policy
    peak = {n: run_task({"kind": "matmul", "threads": n, **on}, policy)["gflops"] for n in ((THREADS,) if gpu else (1, THREADS))}
    print(f"peak {'bf16' if args.bf16 else 'float32'} matmul on {args.device}: "
          + ", ".join(f"{g:.1f} GFLOP/s with {n} thread(s)" for n, g in peak.items()), flush=True)
    impls = ["enformer-lite", "enformer-pytorch"]
    lite = []
    settings = [(batch, THREADS) for batch in args.batches] + ([] if gpu else [(1, 1)])
    for batch, threads in settings:
        for impl in impls:  # interleaved, so that a busy moment hits both
            task = {"kind": "model", "impl": impl, "size": "lite", "batch": batch, "train": True,
                    "repeats": args.repeats, "flops_first": False, "threads": threads, **on}
            lite.append(measure(task, policy))
    full = []
    if not args.skip_full:
        for impl in impls:
            task = {"kind": "model", "impl": impl, "size": "full", "batch": 1, "train": False,
                    "repeats": args.full_repeats, "flops_first": True, "threads": THREADS, **on}
            full.append(measure(task, policy))
    import enformer_pytorch

    report = {
        "command": "python bench/model.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg(),
                    "omp_wait_policy": policy, "device": args.device, "bf16": args.bf16,
                    "gpu": torch.cuda.get_device_name(args.device) if gpu else None},
        "versions": {"torch": torch.__version__, "enformer_pytorch": getattr(enformer_pytorch, "__version__", "0.8.12")},
        "sequence_length": LENGTH,
        "peak_matmul_gflops": {f"{n}_threads": round(g, 1) for n, g in peak.items()},
        "peak_matmul_dtype": "bfloat16" if args.bf16 else "float32",
        "lite_hyperparameters": LITE,
        "lite_train_step": lite,
        "full_inference": full,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
