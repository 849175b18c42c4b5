"""Model benchmark: enformer-lite against enformer-pytorch on CPU at identical hyperparameters.

Measures, each in a fresh subprocess (so that one case's allocations and threads do not touch another's):

* lite size at 196,608 bp, training mode: forward+backward time per step, batch 1 with 2 threads for
  enformer-lite in float32, under bf16 autocast, and under bf16 autocast with the trunk compiled
  (torch.compile, inductor), against enformer-pytorch in float32 (the user's alternative) and under
  bf16 autocast; batch 2 and 1 thread in float32 for both. Sequences/s, CPU seconds per sequence,
  peak resident memory above the model's own, bytes kept for backward (saved activations), FLOPs per
  sequence (``torch.utils.flop_counter.FlopCounterMode``) and the resulting FLOP rate as a fraction of
  the float32 AND the bf16 matmul peak, both timed in the same process around the model steps;
* full published size (``enformer`` preset), inference on one sequence in float32 and bf16: seconds,
  FLOPs, memory, fraction of both peaks; enformer-lite carries the weights of the enformer-pytorch
  model it is compared with (converted), and its float32 output is checked against enformer-pytorch's.

Run from the repository root:  ``python bench/model.py``  (about 15 minutes on 2 cores, of which ~4 are
inductor compiling the lite trunk; ``--skip-full`` leaves out the full-size part, ``--no-compile`` the
compiled case). Writes ``bench/results/model.json``.
On a GPU: ``python bench/model.py --device cuda --bf16 --batches 1 4`` (bf16 autocast, as
training uses there; peak memory is the GPU's), written to ``bench/results/model_cuda_bf16.json``.

Timing environment (why an earlier version of this script reported enformer-lite 1.49x faster where
the same step timed in a plain process is 2.1x): that version set ``MALLOC_MMAP_THRESHOLD_=65536`` in the
timed processes so that peak RSS tracked live tensors, but it also makes every tensor over 64 KB a
fresh ``mmap`` that the kernel zero-fills page by page and ``munmap`` returns at once; the lite step
allocates many full-length (196,608-position) temporaries, so it paid most (measured on this machine:
lite 2.65 s against 1.13 s per step, enformer-pytorch 3.86 s against 2.09 s). The timed processes now
run with the default allocator, as a user's training does, and peak RSS is what such a process sees.
``OMP_WAIT_POLICY=PASSIVE`` stays: with libgomp's default spinning, two workers on a shared 2-core
machine slowed the lite step to 3.2-5.2 s (float32) and 9 s (bf16). Threads: ``torch.set_num_threads``
and ``OMP_NUM_THREADS`` both equal the case's thread count; every case runs in its own process.
On a shared machine wall-clock times swing with other load: every timing is repeated and the best
and median are kept, and CPU seconds give a comparison that load hardly affects.
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
def _enformer_pytorch(hp: dict[str, Any]) -> Any:
    """enformer-pytorch at the given hyperparameters, its weights drawn from seed 0 (the same in every process)."""
    import torch

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from enformer_pytorch import Enformer

        return Enformer.from_hparams(
            dim=hp["channels"], depth=hp["layers"], heads=hp["heads"], attn_dim_key=hp["key_size"],
            dim_divisible_by=hp["divisor"], dropout_rate=hp["dropout"], output_heads=hp["out"],
            target_length=896, num_downsamples=7,
        )


def _build(impl: str, size: str) -> tuple[Any, Any]:
    """Model and a function x -> predictions (B, 896, tracks) for one implementation.

    At full size enformer-lite takes the converted weights of the enformer-pytorch model that its
    comparison process builds (same seed), so that their outputs can be compared."""
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
            target_length=896, **({"positional_gamma": "enformer_pytorch"} if size == "full" else {}),
        )
        model = build_model(cfg)
        if size == "full":
            from enformer_lite.model.convert import convert_state_dict

            reference = _enformer_pytorch(hp)
            model.load_state_dict(convert_state_dict(reference.state_dict(), cfg))
            del reference
        return model, lambda x: model(x, head="human")
    model = _enformer_pytorch(hp)
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


def _peaks(n: int, repeats: int, device: Any) -> dict[str, float]:
    """GFLOP/s of a float32 and a bf16 (n, n) matmul, timed now."""
    import torch

    return {"float32": _matmul_gflops(n, repeats, device, torch.float32),
            "bfloat16": _matmul_gflops(n, repeats, device, torch.bfloat16)}


def worker(task: dict[str, Any]) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(task["threads"])
    torch.manual_seed(0)
    device = torch.device(task.get("device", "cpu"))
    bf16 = bool(task.get("bf16"))
    if task["kind"] == "matmul":
        return {"gflops": _peaks(8192 if device.type == "cuda" else 4096, 6, device)}

    model, fn = _build(task["impl"], task["size"])
    model.to(device)
    batch, train = task["batch"], task["train"]
    torch.manual_seed(1)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (batch, LENGTH)), 4).float().to(device)
    model.train(train)
    base = _maxrss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_gpu = torch.cuda.memory_allocated(device)
    # Peak references taken in the same process just before and after the timed steps, so that a
    # busy machine lowers them as it lowers the model's speed (their 50 MB stay below the steps' peak).
    peak_n = 8192 if device.type == "cuda" else 2048
    peak_before = _peaks(peak_n, 5, device)

    def step() -> Any:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            if train:
                model.zero_grad(set_to_none=True)
                fn(x).float().mean().backward()
                out = None
            else:
                with torch.no_grad():
                    out = fn(x)
        _sync(device)
        return out

    counter = FlopCounterMode(display=False)
    compile_seconds = None
    if task.get("compile"):  # FLOPs counted eagerly (the same arithmetic), then compiled; warm-up = compilation
        with counter:
            step()
        from enformer_lite.model.network import compile_trunk

        t0 = time.perf_counter()
        if not compile_trunk(model):
            raise RuntimeError("torch.compile failed")
        step()
        compile_seconds = round(time.perf_counter() - t0, 1)
    elif task["flops_first"]:  # the counted step doubles as warm-up (full size: each step is slow)
        with counter:
            step()
    else:
        step()
    times, cpu_times = [], []
    for _ in range(task["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        out = step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak_rss = _maxrss_mb() - base
    peak_gpu = torch.cuda.max_memory_allocated(device) - base_gpu if device.type == "cuda" else None
    peak_after = _peaks(peak_n, 5, device)
    peaks = {k: max(peak_before[k], peak_after[k]) for k in peak_before}
    if not task["flops_first"] and not task.get("compile"):
        with counter:
            step()
    result = {
        "seconds": [round(t, 3) for t in times],
        "cpu_seconds": [round(t, 3) for t in cpu_times],
        "peak_rss_mb": round(peak_rss, 1),
        **({"peak_gpu_mb": round(peak_gpu / 2**20, 1)} if peak_gpu is not None else {}),
        "peak_matmul_gflops": {k: round(v, 1) for k, v in peaks.items()},
        "gflop_per_step": round(counter.get_total_flops() / 1e9, 2),
        **({"compile_seconds": compile_seconds} if compile_seconds is not None else {}),
    }
    if train and not task.get("compile"):
        params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            result["saved_for_backward_mb"] = round(_saved_mb(fn, x, params), 1)
    if task.get("save_output"):
        torch.save(out.float().cpu(), task["save_output"])
    return result


# ------------------------------------------------------------------------------------ driver side
def run_task(task: dict[str, Any], wait_policy: str = "PASSIVE") -> dict[str, Any]:
    threads = str(task["threads"])
    # Default allocator (see the module docstring: a fixed mmap threshold slowed the lite step 2.3x).
    # A passive OpenMP wait policy keeps idle threads from spinning, which on a busy machine costs
    # more than the computation itself.
    env = {**os.environ, "OMP_NUM_THREADS": threads, "OMP_WAIT_POLICY": wait_policy,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(task)], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark task {task} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def label(task: dict[str, Any]) -> str:
    return (f"{task['impl']} {'bf16' if task.get('bf16') else 'fp32'}"
            f"{' +compile' if task.get('compile') else ''}")


def measure(task: dict[str, Any], wait_policy: str) -> dict[str, Any]:
    """Run one model task and add throughput, FLOPs per sequence and the fractions of both peaks."""
    res = run_task(task, wait_policy)
    best, median = min(res["seconds"]), statistics.median(res["seconds"])
    batch = task["batch"]
    rate = res["gflop_per_step"] / best
    res.update(
        case=label(task), impl=task["impl"], precision="bf16-autocast" if task.get("bf16") else "float32",
        compiled=bool(task.get("compile")), batch=batch, threads=task["threads"],
        sequences_per_s_best=round(batch / best, 4), sequences_per_s_median=round(batch / median, 4),
        cpu_seconds_per_sequence=round(min(res["cpu_seconds"]) / batch, 3),
        gflop_per_sequence=round(res["gflop_per_step"] / batch, 2),
        gflops_achieved=round(rate, 1),
        fraction_of_peak={k: round(rate / v, 4) for k, v in res["peak_matmul_gflops"].items()},
    )
    where = (f"{task['device']}" if task.get("device", "cpu") != "cpu" else f"{task['threads']} thread(s)")
    memory = (f"GPU peak +{res['peak_gpu_mb']:.0f} MB" if "peak_gpu_mb" in res else f"peak +{res['peak_rss_mb']:.0f} MB")
    peaks = res["peak_matmul_gflops"]
    print(
        f"{task['size']:4s} {'fwd+bwd' if task['train'] else 'forward'} {label(task):28s} batch {batch}, "
        f"{where}: {best:.3f} s best, {res['sequences_per_s_best']:.3f} seq/s (median "
        f"{res['sequences_per_s_median']:.3f}), {res['cpu_seconds_per_sequence']:.2f} CPU s/seq, "
        f"{memory}, saved {res.get('saved_for_backward_mb', 0):.0f} MB, "
        f"{res['gflop_per_sequence']:.1f} GFLOP/seq, {rate:.0f} GFLOP/s = "
        f"{100 * res['fraction_of_peak']['float32']:.1f}% of fp32 peak {peaks['float32']:.0f}, "
        f"{100 * res['fraction_of_peak']['bfloat16']:.1f}% of bf16 peak {peaks['bfloat16']:.0f}"
        + (f"; compiled in {res['compile_seconds']:.0f} s" if "compile_seconds" in res else ""),
        flush=True,
    )
    return res


def _find(rows: list[dict[str, Any]], case: str, batch: int = 1, threads: int = THREADS) -> dict[str, Any] | None:
    return next((r for r in rows if r["case"] == case and r["batch"] == batch and r["threads"] == threads), None)


def goals(lite: list[dict[str, Any]], full: list[dict[str, Any]], equality: dict[str, Any] | None) -> dict[str, Any]:
    """The issue's targets, each with its measured figure (speed-ups of best step times, 2 threads, batch 1)."""
    out: dict[str, Any] = {}

    def ratio(rows: list[dict[str, Any]], fast: str, slow: str) -> float | None:
        a, b = _find(rows, fast), _find(rows, slow)
        return round(a["sequences_per_s_best"] / b["sequences_per_s_best"], 2) if a and b else None

    for key, fast, slow, target in [
        ("lite_train_fp32_vs_enformer_pytorch_fp32", "enformer-lite fp32", "enformer-pytorch fp32", 3.0),
        ("lite_train_bf16_compile_vs_enformer_pytorch_fp32", "enformer-lite bf16 +compile", "enformer-pytorch fp32", 5.0),
        ("lite_train_bf16_vs_enformer_pytorch_fp32", "enformer-lite bf16", "enformer-pytorch fp32", 5.0),
        ("lite_train_bf16_vs_enformer_pytorch_bf16", "enformer-lite bf16", "enformer-pytorch bf16", None),
        ("lite_train_bf16_vs_enformer_lite_fp32", "enformer-lite bf16", "enformer-lite fp32", None),
        ("lite_train_bf16_compile_vs_bf16", "enformer-lite bf16 +compile", "enformer-lite bf16", None),
    ]:
        value = ratio(lite, fast, slow)
        out[key] = {"speedup": value, "target": target, "met": None if target is None or value is None else value >= target}
    for key, fast, slow in [("full_inference_fp32_vs_enformer_pytorch_fp32", "enformer-lite fp32", "enformer-pytorch fp32"),
                            ("full_inference_bf16_vs_enformer_pytorch_fp32", "enformer-lite bf16", "enformer-pytorch fp32"),
                            ("full_inference_bf16_vs_enformer_pytorch_bf16", "enformer-lite bf16", "enformer-pytorch bf16")]:
        value = ratio(full, fast, slow)
        out[key] = {"speedup": value, "target": 2.0, "met": None if value is None else value >= 2.0}
    best = max((r for r in full if r["impl"] == "enformer-lite"), key=lambda r: r["gflops_achieved"], default=None)
    if best is not None:
        value = best["fraction_of_peak"]["bfloat16"]
        out["full_fraction_of_bf16_peak"] = {"case": best["case"], "fraction": value, "target": 0.5, "met": value >= 0.5}
    if equality is not None:
        out["full_outputs_equal_enformer_pytorch_fp32"] = equality
    return out


def compare_outputs(paths: dict[str, Path]) -> dict[str, Any]:
    """Largest deviations of the saved full-size outputs from enformer-pytorch's float32 output."""
    import torch

    ref = torch.load(paths["enformer-pytorch fp32"])
    out: dict[str, Any] = {}
    for case, path in paths.items():
        if case == "enformer-pytorch fp32" or not path.is_file():
            continue
        got = torch.load(path)
        out[case] = {"max_abs_diff": float((got - ref).abs().max()),
                     "max_rel_diff": float(((got - ref).abs() / ref.abs().clamp_min(1e-3)).max()),
                     "max_abs_reference": float(ref.abs().max())}
    fp32 = out.get("enformer-lite fp32")
    if fp32 is not None:
        out["fp32_equal"] = bool(torch.allclose(torch.load(paths["enformer-lite fp32"]), ref, rtol=1e-3, atol=1e-4))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per measurement (after one warm-up)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--full-repeats", type=int, default=2, help="timed full-size forward passes")
    parser.add_argument("--skip-full", action="store_true", help="leave out full-size inference")
    parser.add_argument("--no-compile", action="store_true", help="leave out the compiled lite case")
    parser.add_argument("--omp-wait-policy", default="PASSIVE", choices=["PASSIVE", "ACTIVE"],
                        help="OMP_WAIT_POLICY of the measured processes (PASSIVE suits a shared machine)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N for the GPU figures")
    parser.add_argument("--bf16", action="store_true", help="GPU: bf16 autocast (as training uses there)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/results/model.json (CPU) or model_<device>[_bf16].json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    import tempfile

    import torch

    gpu = args.device != "cpu"
    if args.out is None:
        suffix = f"_{args.device.replace(':', '')}{'_bf16' if args.bf16 else ''}" if gpu else ""
        args.out = ROOT / "bench" / "results" / f"model{suffix}.json"
    load_before = os.getloadavg()
    policy = args.omp_wait_policy
    dev = {"device": args.device}
    peak = {n: run_task({"kind": "matmul", "threads": n, **dev}, policy)["gflops"] for n in ((THREADS,) if gpu else (1, THREADS))}
    print("peak matmul on " + args.device + ": " + ", ".join(
        f"{n} thread(s) {g['float32']:.1f} GFLOP/s float32, {g['bfloat16']:.1f} GFLOP/s bf16" for n, g in peak.items()),
        flush=True)
    # (impl, bf16, compile, batch, threads); interleaved, so that a busy moment hits both implementations
    precisions = [args.bf16] if gpu else [False, True]
    cases: list[tuple[str, bool, bool, int, int]] = []
    for batch in args.batches:
        for bf16 in (precisions if batch == 1 else precisions[:1]):
            cases += [("enformer-lite", bf16, False, batch, THREADS), ("enformer-pytorch", bf16, False, batch, THREADS)]
    if not args.no_compile:
        cases.append(("enformer-lite", precisions[-1], True, 1, THREADS))
    if not gpu:
        cases += [("enformer-lite", False, False, 1, 1), ("enformer-pytorch", False, False, 1, 1)]
    lite = []
    for impl, bf16, compiled, batch, threads in cases:
        task = {"kind": "model", "impl": impl, "size": "lite", "batch": batch, "train": True, "bf16": bf16,
                "compile": compiled, "repeats": args.repeats, "flops_first": False, "threads": threads, **dev}
        lite.append(measure(task, policy))
    full, equality = [], None
    if not args.skip_full:
        with tempfile.TemporaryDirectory() as tmp:
            outputs: dict[str, Path] = {}
            for bf16 in precisions:
                for impl in ("enformer-lite", "enformer-pytorch"):
                    task = {"kind": "model", "impl": impl, "size": "full", "batch": 1, "train": False, "bf16": bf16,
                            "repeats": args.full_repeats, "flops_first": True, "threads": THREADS, **dev}
                    outputs[label(task)] = Path(tmp) / f"{impl}_{int(bf16)}.pt"
                    task["save_output"] = str(outputs[label(task)])
                    full.append(measure(task, policy))
            if "enformer-pytorch fp32" in outputs:
                equality = compare_outputs(outputs)
                print("full-size outputs against enformer-pytorch fp32:", json.dumps(equality), flush=True)
    import enformer_pytorch

    report = {
        "command": "python bench/model.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg(),
                    "omp_wait_policy": policy, "malloc": "default (no MALLOC_MMAP_THRESHOLD_)",
                    "device": args.device, "gpu": torch.cuda.get_device_name(args.device) if gpu else None,
                    "native_bf16": _native_bf16() if not gpu else None},
        "versions": {"torch": torch.__version__, "enformer_pytorch": getattr(enformer_pytorch, "__version__", "0.8.12")},
        "sequence_length": LENGTH,
        "peak_matmul_gflops": {f"{n}_threads": {k: round(v, 1) for k, v in g.items()} for n, g in peak.items()},
        "lite_hyperparameters": LITE,
        "lite_train_step": lite,
        "full_inference": full,
        "goals": goals(lite, full, equality),
    }
    for key, value in report["goals"].items():
        print(f"goal {key}: {json.dumps(value)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_name(f".{args.out.name}.tmp")
    tmp_out.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")
    return 0


def _native_bf16() -> bool:
    from enformer_lite.training.config import cpu_has_native_bf16

    return cpu_has_native_bf16()


if __name__ == "__main__":
    raise SystemExit(main())
