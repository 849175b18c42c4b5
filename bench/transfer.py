"""Transfer: a pretrained trunk fine-tuned on new tracks against the same heads trained from scratch.

A tiny model is pretrained on one set of tracks of the simulated "demo" world (seed 11): human
DNase of 3 cell types, hepatocyte CAGE on both strands and CTCF ChIP. Then, for the same number of
steps, batch size, learning rate and precision, new heads are trained for

* ``--transfer organism`` (default): every track of the *mouse* genome (liver and brain DNase/ATAC,
  liver, brain and macrophage CAGE), the cross-species use of a published model;
* ``--transfer tracks``: the held-out human CAGE tracks (erythroid, myeloid) on the same genome,

each from scratch (the whole tiny model, randomly initialised) and on the pretrained trunk with
``finetune: head`` (cached embeddings), ``linear`` (frozen trunk on the fly), ``lora`` (peft
adapters) and ``full`` (trunk at 0.1 × lr). All are scored on the genes of the test chromosome
chr3 of the fine-tuning genome: Pearson r over (gene, CAGE track) pairs of log(1 + CAGE in the TSS
bin) against the observed signal, beside the noise ceiling r(observed, oracle's expected CAGE), and
each fine-tuned run's gain over scratch with a 95 % interval from 2,000 paired bootstrap resamples of
genes. Goal: fine-tuned ≥ scratch + 0.2 r. The wall-clock time per training step shows the speed-up
of cached embeddings. The pretrained model's own r on its hepatocyte CAGE tracks is recorded too.

Short windows (24,576 bp in, 128 × 128-bp bins out, tiled by 16,384 bp) keep steps cheap (~0.4 s per
pretraining step at one thread). Run from the repository root (the defaults are the recorded run)::

    python bench/transfer.py                      # bench/results/transfer_organism.json
    python bench/transfer.py --transfer tracks    # bench/results/transfer_tracks.json (reuses the pretraining)

Work files go to ``bench/work/transfer`` (the world, data.h5 files, models); a second run reuses the
trained models whose names (genome, mode, steps, learning rate) match.
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
from quality import bootstrap_difference  # bench/ is on sys.path when run as python bench/transfer.py

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "transfer"
PRETRAIN_TRACKS = ["DNASE_erythroid", "DNASE_hepatocyte", "DNASE_myeloid", "CAGE_hepatocyte_plus",
                   "CAGE_hepatocyte_minus", "CHIP_CTCF_erythroid"]
HELD_OUT = {"CAGE_erythroid": "erythroid", "CAGE_myeloid": "myeloid"}
WINDOWS = {"length": 24576, "stride": 16384, "bin_size": 128, "target_length": 128, "max_n_fraction": 0.35}
MODES = ("scratch", "head", "linear", "lora", "full")
DEFAULT_MODES = MODES
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
    """World, the tracks tables and their data.h5 files (made by the workflow): ``pre`` and ``held``
    (the human tracks split in two) and ``mouse`` (every mouse track)."""
    world = WORK / "world"
    for genome in ("human", "mouse"):
        if not (world / f"{genome}.fa").is_file():
            sh([sys.executable, "-m", "enformer_lite.cli", "simulate", "--size", "demo", "--seed", str(seed),
                "--genomes", genome, "--outdir", str(world)], ROOT)
    table = pd.read_csv(world / "human" / "tracks.tsv", sep="\t", dtype=str, keep_default_na=False)
    table["strand_pair"] = table["strand_pair"].astype(int)
    table.index = table["index"].astype(int)
    genome = {"fasta": str(world / "human.fa"), "splits": {"valid": ["chr2"], "test": ["chr3"]}}
    config = {"simulate": {"enabled": False}, "windows": WINDOWS, "genomes": {},
              **{k: {"enabled": False} for k in ("plots", "variants", "contributions", "interpret")}}
    for name, ids in (("pre", PRETRAIN_TRACKS), ("held", list(HELD_OUT))):
        subset_table(table, ids).to_csv(WORK / f"{name}.tsv", sep="\t", index=False)
        config["genomes"][name] = {**genome, "tracks": str(WORK / f"{name}.tsv")}
    config["genomes"]["mouse"] = {"fasta": str(world / "mouse.fa"), "tracks": str(world / "mouse" / "tracks.tsv"),
                                  "splits": {"valid": ["chr2"], "test": ["chr3"]}}
    (WORK / "config.yaml").write_text(yaml.safe_dump(config))
    sh(["snakemake", "--cores", "2", "--configfile", str(WORK / "config.yaml"), "--directory", str(WORK),
        "--snakefile", str(ROOT / "Snakefile"), "results/pre/data.h5", "results/held/data.h5", "results/mouse/data.h5"],
       ROOT)
    return {"pre": WORK / "results/pre/data.h5", "held": WORK / "results/held/data.h5",
            "mouse": WORK / "results/mouse/data.h5",
            "genes": world / "human" / "genes.bed", "truth": world / "human" / "truth" / "genes.tsv",
            "mouse_genes": world / "mouse" / "genes.bed", "mouse_truth": world / "mouse" / "truth" / "genes.tsv"}


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


def score(checkpoint: Path, data: Path, head: str, genes: Path, truth_path: Path) -> dict[str, Any]:
    """r over the (gene, CAGE track) pairs of the test chromosome, and the noise ceiling on them."""
    tss = evaluate(checkpoint, data, head, genes, EvalConfig.from_dict({"batch_size": 8})).tss
    tss = tss[tss["track_id"].str.startswith("CAGE_")]
    truth = pd.read_csv(truth_path, sep="\t").set_index("gene")
    cells = tss["track_id"].str.replace(r"^CAGE_|_plus$|_minus$", "", regex=True)
    expected = np.array([truth.loc[g, f"cage_{c}"] for g, c in zip(tss["gene_id"], cells)])
    obs, pred = np.log1p(tss["observed_counts"].to_numpy(float)), np.log1p(tss["predicted_counts"].to_numpy(float))
    return {"pairs": len(tss), "genes": int(tss["gene_id"].nunique()), "r_observed": pearson(pred, obs),
            "r_expected": pearson(pred, np.log1p(expected)), "ceiling": pearson(obs, np.log1p(expected)),
            "table": tss[["gene_id", "track_id", "predicted_counts", "observed_counts"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=200, help="steps of every held-out run (scratch and fine-tuning)")
    parser.add_argument("--lr", type=float, default=6e-3, help="peak learning rate of every run")
    parser.add_argument("--transfer", choices=("tracks", "organism"), default="organism",
                        help="fine-tune on the held-out human CAGE tracks, or on every mouse track")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--precision", default="bf16-mixed",
                        help="Lightning precision of every run (the recorded runs: bf16-mixed on this AVX-512-BF16 CPU)")
    parser.add_argument("--modes", nargs="+", default=list(DEFAULT_MODES), choices=MODES)
    parser.add_argument("--out", type=Path, help="default: bench/results/transfer_<transfer>.json")
    args = parser.parse_args()
    args.out = args.out or ROOT / "bench" / "results" / f"transfer_{args.transfer}.json"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("lightning", "lightning.pytorch", "enformer_lite"):
        logging.getLogger(name).setLevel(logging.WARNING)
    WORK.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    files = prepare(args.seed)
    log.info("data ready after %.0f s", time.perf_counter() - began)
    base = {"batch_size": 4, "lr": args.lr, "warmup_steps": 20, "limit_val_batches": 8, "progress_bar": False,
            "log_per_track": False, "seed": args.seed,
            "trainer": {"precision": args.precision}}
    tiny = {"preset": "tiny", "dropout": 0.1}
    tag = f"lr{args.lr:g}"
    pretrained, per_step = timed_train(f"pretrained-{args.pretrain_steps}-{tag}", {"human": files["pre"]}, tiny,
                                       {**base, "max_steps": args.pretrain_steps, "val_check_interval": args.pretrain_steps})
    log.info("pretrained %d steps (%.2f s/step)", args.pretrain_steps, per_step)
    source = {"pretrained": str(pretrained / "best.ckpt")}
    target = "held" if args.transfer == "tracks" else "mouse"
    held = {target: files[target]}
    genes, truth = (files["genes"], files["truth"]) if target == "held" else (files["mouse_genes"], files["mouse_truth"])
    steps = {**base, "max_steps": args.steps, "val_check_interval": args.steps}
    results: dict[str, Any] = {"settings": {**vars(args), "out": str(args.out), "windows": WINDOWS, "train": base,
                                            "pretrain_tracks": PRETRAIN_TRACKS,
                                            "fine_tune_tracks": list(HELD_OUT) if target == "held" else "mouse: all"}}
    own = score(pretrained / "best.ckpt", files["pre"], "human", files["genes"], files["truth"])
    own.pop("table")
    results["pretrain"] = {"steps": args.pretrain_steps, "seconds_per_step": per_step, "own_cage": own}
    log.info("pretrained model on its own CAGE tracks: %s", results["pretrain"]["own_cage"])
    tables: dict[str, pd.DataFrame] = {}
    for mode in args.modes:
        embeddings = None
        if mode == "head":
            from enformer_lite.model.network import build_model
            from enformer_lite.model.pretrained import read_pretrained
            from enformer_lite.inference.embeddings import write_embeddings

            embeddings = {target: WORK / f"embeddings-{target}-{args.pretrain_steps}-{tag}.h5"}
            if not embeddings[target].is_file():
                started = time.perf_counter()
                model = read_pretrained(source["pretrained"])
                trunk = build_model(model.config)
                trunk.load_state_dict(model.state_dict)
                write_embeddings(trunk, files[target], embeddings[target], source["pretrained"], batch_size=8)
                results["embedding_seconds"] = time.perf_counter() - started
        model = tiny if mode == "scratch" else source
        extra = {} if mode == "scratch" else {"finetune": mode, "trunk_lr_ratio": 0.1}
        name = f"{target}-{mode}-{args.steps}-{tag}" + ("" if mode == "scratch" else f"-from{args.pretrain_steps}")
        out, per_step = timed_train(name, held, model, {**steps, **extra}, embeddings)
        scored = score(out / "best.ckpt", files[target], target, genes, truth)
        tables[mode] = scored.pop("table")
        results[mode] = {**scored, "seconds_per_step": per_step}
        if mode != "scratch" and "scratch" in tables:
            gain = bootstrap_difference(tables[mode], tables["scratch"], draws=2000, seed=0)
            results[mode]["gain_over_scratch"] = {"gain": gain.pop("difference"), **gain}
        log.info("%s: %s", mode, results[mode])
    results["seconds"] = time.perf_counter() - began
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "settings"}, indent=2))


if __name__ == "__main__":
    main()
