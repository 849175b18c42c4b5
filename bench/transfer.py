"""Transfer: a pretrained trunk fine-tuned on held-out tracks against the same heads trained from scratch.

On the simulated "demo" world (human, seed 11), the tracks are split in two sets over the same
genome: *pretraining* tracks (DNase of 3 cell types, hepatocyte CAGE on both strands, CTCF ChIP)
and *held-out* tracks (erythroid and myeloid CAGE). A tiny model is pretrained on the first set;
then, for the same number of steps, batch size and learning rate, new heads for the held-out tracks
are trained

* from scratch (the whole tiny model, randomly initialised),
* on the pretrained trunk: ``finetune: head`` (cached embeddings), ``linear`` (frozen trunk on the
  fly), ``full`` (trunk at 0.1 × lr) and, with ``--modes``, ``lora``,

and all are scored on the genes of the held-out chromosome chr3: Pearson r over (gene, held-out
CAGE track) pairs of log(1 + CAGE summed over the TSS bin ± 1) against the observed signal, beside
the noise ceiling r(observed, oracle's expected CAGE). Goal: fine-tuned ≥ scratch + 0.2 r. The
wall-clock time per training step of each mode shows the speed-up of cached embeddings.

Short windows (24,576 bp in, 128 × 128-bp bins out, tiled by 16,384 bp) keep steps cheap (~0.15 s
for the tiny model on 2 idle cores); the defaults, 1,000 pretraining and 200 held-out steps, are
sized for ~15 minutes there, while the recorded run (bench/README.md, "Transfer") used 400 and 100
on a loaded machine. Run from the repository root::

    python bench/transfer.py                      # writes bench/results/transfer.json

Work files go to ``bench/work/transfer`` (the world, data.h5 files, models); a second run reuses them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from enformer_lite.inference.evaluate import EvalConfig, evaluate
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "transfer"
PRETRAIN_TRACKS = ["DNASE_erythroid", "DNASE_hepatocyte", "DNASE_myeloid", "CAGE_hepatocyte_plus",
                   "CAGE_hepatocyte_minus", "CHIP_CTCF_erythroid"]
HELD_OUT = {"CAGE_erythroid": "erythroid", "CAGE_myeloid": "myeloid"}
WINDOWS = {"length": 24576, "stride": 16384, "bin_size": 128, "target_length": 128, "max_n_fraction": 0.35}
MODES = ("scratch", "head", "linear", "lora", "full")
DEFAULT_MODES = ("scratch", "head", "linear", "full")  # lora by --modes (its cost per step is full's)
log = logging.getLogger("transfer")


def sh(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def subset_table(table: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Rows ``ids`` of a tracks table, re-indexed, strand pairs mapped to the new indices."""
    rows = table.set_index("id").loc[ids].reset_index()
    old_to_new = {int(table.index[table["id"] == i][0]): n for n, i in enumerate(ids)}
    rows["strand_pair"] = [old_to_new[int(p)] for p in rows["strand_pair"]]
    rows["index"] = range(len(rows))
    return rows[table.columns]


def prepare(seed: int) -> dict[str, Path]:
    """World, the two tracks tables and their data.h5 files (made by the workflow)."""
    world = WORK / "world"
    if not (world / "human.fa").is_file():
        sh([sys.executable, "-m", "enformer_lite.cli", "simulate", "--size", "demo", "--seed", str(seed),
            "--genomes", "human", "--outdir", str(world)], ROOT)
    table = pd.read_csv(world / "human" / "tracks.tsv", sep="\t", dtype=str, keep_default_na=False)
    table["strand_pair"] = table["strand_pair"].astype(int)
    table.index = table["index"].astype(int)
    genome = {"fasta": str(world / "human.fa"), "splits": {"valid": ["chr2"], "test": ["chr3"]}}
    config = {"simulate": {"enabled": False}, "windows": WINDOWS, "genomes": {},
              **{k: {"enabled": False} for k in ("plots", "variants", "contributions", "interpret")}}
    for name, ids in (("pre", PRETRAIN_TRACKS), ("held", list(HELD_OUT))):
        subset_table(table, ids).to_csv(WORK / f"{name}.tsv", sep="\t", index=False)
        config["genomes"][name] = {**genome, "tracks": str(WORK / f"{name}.tsv")}
    (WORK / "config.yaml").write_text(yaml.safe_dump(config))
    sh(["snakemake", "--cores", "2", "--configfile", str(WORK / "config.yaml"), "--directory", str(WORK),
        "--snakefile", str(ROOT / "Snakefile"), "results/pre/data.h5", "results/held/data.h5"], ROOT)
    return {"pre": WORK / "results/pre/data.h5", "held": WORK / "results/held/data.h5",
            "genes": world / "human" / "genes.bed", "truth": world / "human" / "truth" / "genes.tsv"}


def timed_train(name: str, data: dict[str, Any], model: dict[str, Any], settings: dict[str, Any],
                embeddings: dict[str, Path] | None = None) -> tuple[Path, float]:
    """Train into WORK/name (resumed or reused when done); returns outdir and seconds per step."""
    out = WORK / name
    started = time.perf_counter()
    if not (out / "best.ckpt").is_file():
        train(data, out, model, TrainConfig.from_dict(settings), embeddings=embeddings)
    seconds = time.perf_counter() - started
    timing = out / "seconds.json"
    if not timing.is_file():
        timing.write_text(json.dumps({"seconds": seconds, "steps": settings["max_steps"]}))
    recorded = json.loads(timing.read_text())
    return out, recorded["seconds"] / recorded["steps"]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 else float("nan")


def score(checkpoint: Path, files: dict[str, Path]) -> dict[str, Any]:
    """r over held-out (gene, CAGE track) pairs of the test chromosome, and the noise ceiling on them."""
    tss = evaluate(checkpoint, files["held"], "held", files["genes"], EvalConfig.from_dict({"batch_size": 8})).tss
    truth = pd.read_csv(files["truth"], sep="\t").set_index("gene")
    expected = np.array([truth.loc[g, f"cage_{HELD_OUT[t]}"] for g, t in zip(tss["gene_id"], tss["track_id"])])
    obs, pred = np.log1p(tss["observed_counts"].to_numpy(float)), np.log1p(tss["predicted_counts"].to_numpy(float))
    return {"pairs": len(tss), "genes": int(tss["gene_id"].nunique()), "r_observed": pearson(pred, obs),
            "r_expected": pearson(pred, np.log1p(expected)), "ceiling": pearson(obs, np.log1p(expected))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200, help="steps of every held-out run (scratch and fine-tuning)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--modes", nargs="+", default=list(DEFAULT_MODES), choices=MODES)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "transfer.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("lightning", "lightning.pytorch", "enformer_lite"):
        logging.getLogger(name).setLevel(logging.WARNING)
    WORK.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    files = prepare(args.seed)
    log.info("data ready after %.0f s", time.perf_counter() - began)
    base = {"batch_size": 4, "lr": 2e-3, "warmup_steps": 20, "limit_val_batches": 8, "progress_bar": False,
            "log_per_track": False, "seed": args.seed}
    tiny = {"preset": "tiny", "dropout": 0.1}
    pretrained, per_step = timed_train("pretrained", {"human": files["pre"]}, tiny,
                                       {**base, "max_steps": args.pretrain_steps, "val_check_interval": args.pretrain_steps})
    log.info("pretrained %d steps (%.2f s/step)", args.pretrain_steps, per_step)
    source = {"pretrained": str(pretrained / "best.ckpt")}
    held = {"held": files["held"]}
    steps = {**base, "max_steps": args.steps, "val_check_interval": args.steps}
    results: dict[str, Any] = {"settings": {**vars(args), "out": str(args.out), "windows": WINDOWS, "train": base,
                                            "pretrain_tracks": PRETRAIN_TRACKS, "held_out_tracks": list(HELD_OUT)}}
    results["pretrain"] = {"steps": args.pretrain_steps, "seconds_per_step": per_step}
    for mode in args.modes:
        embeddings = None
        if mode == "head":
            from enformer_lite.model.network import build_model
            from enformer_lite.model.pretrained import read_pretrained
            from enformer_lite.inference.embeddings import write_embeddings

            embeddings = {"held": WORK / "embeddings.h5"}
            if not embeddings["held"].is_file():
                started = time.perf_counter()
                model = read_pretrained(source["pretrained"])
                trunk = build_model(model.config)
                trunk.load_state_dict(model.state_dict)
                write_embeddings(trunk, files["held"], embeddings["held"], source["pretrained"], batch_size=8)
                results["embedding_seconds"] = time.perf_counter() - started
        model = tiny if mode == "scratch" else source
        extra = {} if mode == "scratch" else {"finetune": mode, "trunk_lr_ratio": 0.1}
        out, per_step = timed_train(mode, held, model, {**steps, **extra}, embeddings)
        results[mode] = {**score(out / "best.ckpt", files), "seconds_per_step": per_step}
        log.info("%s: %s", mode, results[mode])
    results["seconds"] = time.perf_counter() - began
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "settings"}, indent=2))


if __name__ == "__main__":
    main()
