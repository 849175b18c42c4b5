"""Loss curves of float32 and bf16-mixed training: the same model, data, seed and schedule, two precisions.

Trains the real ``EnformerLite`` (tiny preset) through the real training entry point
(:func:`enformer_lite.training.train.train`: Lightning, AdamW, warm-up + cosine schedule, clipping,
augmentation) on the world of the suite's learning test (``tests/test_learning.py``: a sequence ->
signal rule, 96 training windows), once with ``train.trainer.precision: 32-true`` and once with
``bf16-mixed``, and records the training loss at every step, the validation loss and Pearson r,
and r on the held-out test windows for both. This is the evidence behind ``precision: auto``
choosing ``bf16-mixed`` on a CPU with native bf16: the curves must coincide (to bf16's noise);
the speed side of the choice is measured by ``bench/model.py``.

Run from the repository root:  ``python bench/precision.py``  (about 2 minutes on 2 cores).
Writes ``bench/results/precision.json`` and ``bench/results/precision.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's tiny world (test_train_support, test_learning)


def run(precision: str, data: Path, outdir: Path, steps: int, seed: int) -> dict[str, Any]:
    import pandas as pd

    from enformer_lite.training.config import TrainConfig
    from enformer_lite.training.train import train
    from test_train_support import REAL_TINY_MODEL, held_out_pearson

    cfg = TrainConfig.from_dict({
        "max_steps": steps, "batch_size": 8, "val_check_interval": steps // 4, "limit_val_batches": 1.0,
        "checkpoint_every_n_steps": steps, "progress_bar": False, "log_every_n_steps": 1,
        "lr": 3e-3, "warmup_steps": 20, "seed": seed, "trainer": {"precision": precision, "accelerator": "cpu"},
    })
    started, cpu = time.perf_counter(), time.process_time()
    out = train({"human": data}, outdir, REAL_TINY_MODEL, cfg)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    metrics = pd.read_csv(out / "metrics.csv")
    losses = metrics.dropna(subset=["train/loss"])[["step", "train/loss"]]
    val = metrics.dropna(subset=["val/loss"])[["step", "val/loss", "val/pearson"]]
    r = held_out_pearson(out / "last.ckpt", data)
    return {
        "precision": precision,
        "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
        "train_loss": {"step": losses["step"].astype(int).tolist(), "loss": [round(float(v), 5) for v in losses["train/loss"]]},
        "validation": {"step": val["step"].astype(int).tolist(), "loss": [round(float(v), 5) for v in val["val/loss"]],
                       "pearson": [round(float(v), 4) for v in val["val/pearson"]]},
        "test_pearson_per_track": [round(v, 4) for v in r],
    }


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    for res, colour in zip(report["runs"], ("tab:blue", "tab:orange")):
        curve = res["train_loss"]
        ax.plot(curve["step"], curve["loss"], color=colour, lw=1, alpha=0.8, label=res["precision"])
        val = res["validation"]
        bx.plot(val["step"], val["loss"], "o-", color=colour, label=f"{res['precision']} (test r "
                f"{min(res['test_pearson_per_track']):.2f}-{max(res['test_pearson_per_track']):.2f})")
    ax.set(xlabel="step", ylabel="training loss (Poisson)", title="training loss per step", yscale="log")
    bx.set(xlabel="step", ylabel="validation loss", title="validation")
    ax.legend()
    bx.legend(fontsize=8)
    fig.suptitle(f"tiny EnformerLite, same seed and data: float32 vs bf16 autocast; precision: auto on this CPU = "
                 f"{report['auto_resolves_to']} for windows >= 8,192 bp, "
                 f"{report['auto_resolves_to_for_this_world']} for these 256-bp windows", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps per run (a multiple of 4)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "precision.json")
    args = parser.parse_args(argv)

    import h5py
    import numpy as np
    import torch

    from enformer_lite.training.config import TrainerConfig, cpu_has_native_bf16
    from test_learning import strand_consistent_targets
    from test_train_support import write_h5

    torch.set_num_threads(2)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        splits = ["train"] * 96 + ["valid"] * 8 + ["test"] * 32
        data = write_h5(Path(tmp) / "human.h5", "human", splits, seed=21)
        with h5py.File(data, "r+") as h5:
            h5["targets"][...] = strand_consistent_targets(h5["sequence"][:]).astype(np.float16)
        runs = [run(p, data, Path(tmp) / p, args.steps, args.seed) for p in ("32-true", "bf16-mixed")]
    a, b = (np.asarray(r["train_loss"]["loss"]) for r in runs)
    n = min(len(a), len(b))
    tail = slice(n // 2, n)
    report = {
        "command": "python bench/precision.py " + " ".join(sys.argv[1:]),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "torch": torch.__version__,
        "native_bf16_cpu": cpu_has_native_bf16(),
        "auto_resolves_to": TrainerConfig(accelerator="cpu").resolved_precision(),
        "auto_resolves_to_for_this_world": TrainerConfig(accelerator="cpu").resolved_precision(window_length=256),
        "steps": args.steps, "seed": args.seed,
        "world": "tests/test_learning.py (96 train / 8 valid / 32 test windows of 256 bp, tiny preset, 3 tower blocks)",
        "runs": runs,
        "comparison": {
            "mean_abs_rel_diff_train_loss_second_half": round(float(np.mean(np.abs(b[tail] - a[tail]) / a[tail])), 4),
            "final_val_loss": [r["validation"]["loss"][-1] for r in runs],
            "final_val_pearson": [r["validation"]["pearson"][-1] for r in runs],
            "min_test_pearson": [min(r["test_pearson_per_track"]) for r in runs],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, args.out.with_suffix(".png"))
    print(json.dumps(report["comparison"]), f"auto -> {report['auto_resolves_to']}")
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
