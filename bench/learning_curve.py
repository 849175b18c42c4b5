"""Learning curves: r(model, observed) / noise ceiling at held-out TSSs against CPU-minutes, attention vs CNN-only.

Extends ``bench/quality.py`` (same world, same genes, same truth join) from one end point to a curve:
each of the two variants (attention, CNN-only ablation) is trained once per seed with the config's
budget; at each of ``--curve-steps`` the weights are saved (a Lightning callback) together with the
CPU seconds the training process has used so far (all threads, ``time.process_time``), and every
snapshot is evaluated on the test chromosomes. For each snapshot the script reports, per gene group
(all, distal-dominated, proximal-dominated; see ``bench/quality.py``), r(model, observed) and its
ratio to the ceiling r(observed, expected). At the last step it reports attention minus CNN-only,
averaged over the paired seeds, with a 95 % bootstrap interval over genes (the same gene draw for
every seed), and draws the curves (one thin line per seed, the seed mean bold) to
``bench/results/learning_curve.png``.

Inputs as for ``bench/quality.py`` (the bench world's ``data.h5`` files), then::

    python bench/learning_curve.py --preset tiny --max-steps 400 --curve-steps 50 100 200 400 \\
        --seeds 0 1 2 --threads 1 --only attention &
    python bench/learning_curve.py --preset tiny --max-steps 400 --curve-steps 50 100 200 400 \\
        --seeds 0 1 2 --threads 1 --only cnn_only; wait
    python bench/learning_curve.py --preset tiny --max-steps 400 --curve-steps 50 100 200 400 --seeds 0 1 2

(the last call reuses the finished runs and writes ``bench/results/learning_curve.json``, key
``at_last_step``). With ``--baseline-workdir`` (a finished workdir of other settings, e.g. the
default learning rate and loss) it also reports, per variant, this run minus the baseline at the
last step with the same paired bootstrap: what a change of settings bought. A run is reused only
when its settings match; a resumed run has no snapshots of its earlier steps and stops, so a killed
run is started afresh (delete its directory under ``--workdir``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
import yaml
from lightning.pytorch.callbacks import Callback

from quality import VARIANTS, bootstrap_difference, summarise, with_truth  # bench/ is on sys.path
from enformer_lite.inference.evaluate import EvalConfig, evaluate
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train

log = logging.getLogger("learning_curve")
GROUPS = ("all", "distal_dominated", "proximal_dominated")


class Snapshots(Callback):
    """Save the weights at the given global steps, with the process's CPU and wall seconds so far."""

    def __init__(self, steps: Sequence[int], outdir: Path) -> None:
        self.steps = set(int(s) for s in steps)
        self.outdir = outdir
        self.clock: dict[str, float] = {}
        self.taken: list[dict[str, float]] = []

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.global_step:
            raise SystemExit(f"{self.outdir}: a resumed run has no snapshots of its earlier steps; delete "
                             f"{self.outdir.parent} and run again")
        self.clock = {"cpu": time.process_time(), "wall": time.perf_counter()}

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        step = trainer.global_step
        if step in self.steps and not any(s["step"] == step for s in self.taken):
            cpu, wall = time.process_time() - self.clock["cpu"], time.perf_counter() - self.clock["wall"]
            self.outdir.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(self.outdir / f"step{step}.ckpt", weights_only=True)
            self.taken.append({"step": step, "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1)})


def run_one(name: str, seed: int, args: argparse.Namespace, workflow: dict[str, Any], cfg: TrainConfig,
            truth: pd.DataFrame) -> dict[str, Any]:
    """Train one (variant, seed), evaluate each snapshot; returns its curve (reused when settings match)."""
    outdir = args.workdir / f"{name}-seed{seed}"
    saved = outdir / "curve.json"
    key = {"train": cfg.to_dict(), "preset": args.preset, "steps": sorted(args.curve_steps)}
    if saved.is_file() and json.loads(saved.read_text())["key"] == key:
        log.info("%s seed %d: reusing %s", name, seed, saved)
        return json.loads(saved.read_text())
    data = {genome: str(args.root / "results" / genome / "data.h5") for genome in workflow["genomes"]}
    genes = str(args.root / workflow["genomes"][args.genome]["genes"])
    snapshots = Snapshots(args.curve_steps, outdir / "snapshots")
    model = {**(workflow.get("model") or {}), "preset": args.preset, "attention": VARIANTS[name]}
    train(data, outdir, model, cfg, callbacks=[snapshots])
    points = []
    for taken in snapshots.taken:
        result = evaluate(outdir / "snapshots" / f"step{taken['step']}.ckpt", data[args.genome], genes=genes,
                          cfg=EvalConfig(tss_flank_bins=1))
        table = with_truth(result.tss, truth)
        table.to_csv(outdir / f"step{taken['step']}.tss.tsv", sep="\t", index=False)
        summary = summarise(table)
        points.append({**taken, **{group: {**values, "ratio": values["r_model_observed"]
                                           / values["ceiling_r_observed_expected"]}
                                   for group, values in summary.items()},
                       "pearson_positions": dict(zip(result.tracks["track_id"], result.tracks["pearson"])),
                       "pearson_specific": dict(zip(result.tracks["track_id"], result.tracks["pearson_specific"]))})
    curve = {"key": key, "variant": name, "seed": seed, "points": points}
    saved.write_text(json.dumps(curve, indent=2, default=float) + "\n")
    return curve


def plot(curves: list[dict[str, Any]], path: Path) -> None:
    """r / ceiling against CPU-minutes, all genes and distal-dominated genes, per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    colours = {"attention": "tab:blue", "cnn_only": "tab:orange"}
    for ax, group in zip(axes, ("all", "distal_dominated")):
        for name in VARIANTS:
            runs = [c for c in curves if c["variant"] == name]
            for run in runs:
                ax.plot([p["cpu_seconds"] / 60 for p in run["points"]], [p[group]["ratio"] for p in run["points"]],
                        color=colours[name], alpha=0.3, lw=1)
            if runs:
                minutes = np.mean([[p["cpu_seconds"] / 60 for p in r["points"]] for r in runs], axis=0)
                ratio = np.mean([[p[group]["ratio"] for p in r["points"]] for r in runs], axis=0)
                ax.plot(minutes, ratio, color=colours[name], lw=2.2, marker="o", label=f"{name} (mean of {len(runs)})")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(f"{group.replace('_', '-')} genes")
        ax.set_xlabel("training CPU-minutes")
    axes[0].set_ylabel("r(model, observed) / ceiling")
    axes[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/bench.yaml")
    parser.add_argument("--root", type=Path, default=Path("bench/work/world"))
    parser.add_argument("--genome", default="human")
    parser.add_argument("--workdir", type=Path, default=Path("bench/work/learning_curve"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/learning_curve.json"))
    parser.add_argument("--preset", help="model preset (default: the config's)")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--loss", choices=["poisson", "poisson_multinomial"])
    parser.add_argument("--sub-window-length", type=int, help="train.sub_windows.length (bp; default: the config's)")
    parser.add_argument("--sub-window-fraction", type=float, help="train.sub_windows.fraction")
    parser.add_argument("--sub-window-target-length", type=int, help="train.sub_windows.target_length (bins)")
    parser.add_argument("--sub-window-peak-fraction", type=float, help="train.sub_windows.peak_fraction")
    parser.add_argument("--sub-window-peak-mode", choices=["signal", "specific"], help="train.sub_windows.peak_mode")
    parser.add_argument("--sub-window-peak-min-sd", type=float, help="train.sub_windows.peak_min_sd")
    parser.add_argument("--specificity-weight", type=float, help="train.specificity_weight")
    parser.add_argument("--curve-steps", type=int, nargs="+", required=True, help="global steps to snapshot")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--only", choices=sorted(VARIANTS), help="train one variant only (one per core)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--baseline-workdir", type=Path,
                        help="a finished --workdir of other settings (same seeds and last step): also report this "
                             "run minus that one per variant, with the same paired bootstrap")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    workflow = yaml.safe_load(Path(args.config).read_text()) or {}
    args.preset = args.preset or (workflow.get("model") or {}).get("preset", "lite")
    base = {**(workflow.get("train") or {}), "progress_bar": False,
            **{k: v for k, v in (("max_steps", args.max_steps), ("lr", args.lr), ("loss", args.loss),
                                 ("specificity_weight", args.specificity_weight)) if v is not None}}
    sub_windows = {key: value for key, value in (("length", args.sub_window_length), ("fraction", args.sub_window_fraction),
                                                 ("target_length", args.sub_window_target_length),
                                                 ("peak_fraction", args.sub_window_peak_fraction),
                                                 ("peak_mode", args.sub_window_peak_mode),
                                                 ("peak_min_sd", args.sub_window_peak_min_sd)) if value is not None}
    if sub_windows:
        base["sub_windows"] = {**(base.get("sub_windows") or {}), **sub_windows}
    if max(args.curve_steps) > base.get("max_steps", TrainConfig().max_steps):
        raise SystemExit(f"--curve-steps {max(args.curve_steps)} lies past max_steps")
    truth = pd.read_csv(args.root / workflow["simulate"]["outdir"] / args.genome / "truth" / "genes.tsv", sep="\t")
    load_before = [round(x, 2) for x in os.getloadavg()]
    curves = [run_one(name, seed, args, workflow, TrainConfig.from_dict({**base, "seed": seed}), truth)
              for name in VARIANTS if not args.only or name == args.only for seed in args.seeds]
    if args.only:
        return
    last = max(args.curve_steps)
    tables = {name: [pd.read_csv(args.workdir / f"{name}-seed{seed}" / f"step{last}.tss.tsv", sep="\t")
                     for seed in args.seeds] for name in VARIANTS}
    compare = {}
    for group in GROUPS:
        pick = {name: [t if group == "all" else t[(t["distal_share"] > 0.5) == (group == "distal_dominated")]
                       for t in tables[name]] for name in VARIANTS}
        compare[group] = bootstrap_difference(pick["attention"], pick["cnn_only"], args.bootstrap, seed=0)
    if args.baseline_workdir:
        for name in VARIANTS:
            baseline = [pd.read_csv(args.baseline_workdir / f"{name}-seed{seed}" / f"step{last}.tss.tsv", sep="\t")
                        for seed in args.seeds]
            compare[f"{name}_minus_baseline"] = bootstrap_difference(tables[name], baseline, args.bootstrap, seed=0)
    report = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "train": TrainConfig.from_dict(base).to_dict(), "load_average_before_report": load_before,
              "curves": curves, "at_last_step": compare}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    plot(curves, args.out.with_suffix(".png"))
    print("| variant | step | CPU-min (mean) | r/ceiling all | r/ceiling distal | r/ceiling proximal |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in VARIANTS:
        runs = [c for c in curves if c["variant"] == name]
        for i, point in enumerate(runs[0]["points"]):
            mean = {g: np.mean([r["points"][i][g]["ratio"] for r in runs]) for g in GROUPS}
            cpu = np.mean([r["points"][i]["cpu_seconds"] for r in runs]) / 60
            print(f"| {name} | {point['step']} | {cpu:.1f} | {mean['all']:.3f} | {mean['distal_dominated']:.3f} | "
                  f"{mean['proximal_dominated']:.3f} |")
    for group, values in compare.items():
        label = group.replace("_minus_baseline", " - baseline, all") if group.endswith("baseline") else \
            f"attention - cnn_only, {group}"
        print(f"{label} at step {last}: {values['difference']:+.3f} (95% interval over "
              f"{values['n_genes']} genes, {values['n_seeds']} seeds: {values['ci95_low']:+.3f} .. "
              f"{values['ci95_high']:+.3f})")
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
