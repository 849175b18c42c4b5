"""How fast the model learns at a given learning rate and loss: a short sweep on the transfer world.

Short budgets are what CPU users run, so the peak learning rate decides whether a run learns
anything. Each case trains the tiny model on the pretraining tracks of ``bench/transfer.py``'s
world (human "demo" world, seed 11: DNase × 3, hepatocyte CAGE ±, CTCF ChIP; 24,576-bp windows,
128 × 128-bp bins out) for the same number of steps (batch 4, 20 warm-up steps, cosine decay,
float32, one thread, seed 11) and is scored on the test chromosome chr3: Pearson r over all
positions per track (as ``enformer-lite evaluate``) and r of log(1 + CAGE at the TSS bin) over
the chr3 genes, own strand. Run ``python bench/transfer.py`` first (it makes the data), then::

    python bench/learning_rate.py                 # writes bench/results/learning_rate.json

Work files go to ``bench/work/learning_rate/<case>``; a finished case is reused.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from enformer_lite.inference.evaluate import EvalConfig, evaluate
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "work" / "transfer"
WORK = ROOT / "bench" / "work" / "learning_rate"
CASES = {"lr2e-3": (2e-3, "poisson"), "lr6e-3": (6e-3, "poisson"), "lr1.5e-2": (1.5e-2, "poisson"),
         "lr6e-3-multinomial": (6e-3, "poisson_multinomial")}


def run_case(name: str, lr: float, loss: str, steps: int) -> dict[str, Any]:
    out = WORK / name
    settings = {"batch_size": 4, "lr": lr, "warmup_steps": 20, "limit_val_batches": 4, "progress_bar": False,
                "log_per_track": False, "seed": 11, "max_steps": steps, "val_check_interval": steps, "loss": loss,
                "trainer": {"precision": "32-true"}}
    started = time.perf_counter()
    if not (out / "best.ckpt").is_file():
        train({"human": DATA / "results/pre/data.h5"}, out, {"preset": "tiny", "dropout": 0.1},
              TrainConfig.from_dict(settings))
    seconds = time.perf_counter() - started
    result = evaluate(out / "best.ckpt", DATA / "results/pre/data.h5", "human", DATA / "world/human/genes.bed",
                      EvalConfig.from_dict({"batch_size": 8}))
    cage = result.tss[result.tss["track_id"].str.startswith("CAGE")]
    r_tss = np.corrcoef(np.log1p(cage["observed_counts"].to_numpy(float)),
                        np.log1p(cage["predicted_counts"].to_numpy(float)))[0, 1]
    return {"lr": lr, "loss": loss, "steps": steps, "train_seconds_this_run": round(seconds, 1),
            "pearson_positions": dict(zip(result.tracks["track_id"], result.tracks["pearson"].round(4))),
            "cage_tss_r": round(float(r_tss), 4), "cage_tss_pairs": len(cage),
            "cage_tss_predicted_mean": round(float(cage["predicted_counts"].mean()), 3),
            "cage_tss_observed_mean": round(float(cage["observed_counts"].mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "learning_rate.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in ("lightning", "lightning.pytorch", "enformer_lite"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not (DATA / "results/pre/data.h5").is_file():
        raise SystemExit("run python bench/transfer.py first: it makes bench/work/transfer/results/pre/data.h5")
    report: dict[str, Any] = {"load_average_before": os.getloadavg(), "cases": {}}
    for name in args.cases:
        report["cases"][name] = run_case(name, *CASES[name], steps=args.steps)
        print(name, json.dumps(report["cases"][name]), flush=True)
    report["load_average_after"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
