"""Validation curves of finished training runs: per-track validation Pearson against step, side by side.

Reads the Lightning ``metrics.csv`` of each run (``NAME=PATH``; a run directory such as
``results/model/run`` or a learning-curve workdir's ``attention-seed0/run`` is searched for its
newest ``metrics.csv``), keeps the rows of the validation checks, and writes one JSON with every
run's curve (mean and per-track ``val/<genome>/pearson``) and a figure with one panel per track::

    python bench/val_curves.py --genome human --out bench/results/demo_training.json \\
        demo=/tmp/demo/results/model/run sub=bench/work/demo_sub/attention-seed0/run

The validation windows and batches are those of each run's config (``limit_val_batches``), so
curves compare only between runs on the same data and config.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def metrics_file(path: Path) -> Path:
    """``path`` itself when it is a file, else the newest ``metrics.csv`` below it."""
    if path.is_file():
        return path
    found = sorted(path.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"{path}: no metrics.csv")
    return found[-1]


def val_curve(path: Path, genome: str) -> pd.DataFrame:
    """One row per validation check: ``step`` and the ``val/<genome>/pearson[/track]`` columns (renamed
    ``mean`` and the track ids)."""
    table = pd.read_csv(metrics_file(path))
    prefix = f"val/{genome}/pearson"
    columns = [c for c in table.columns if c == prefix or c.startswith(prefix + "/")]
    if not columns:
        raise SystemExit(f"{path}: no {prefix} columns")
    rows = table[["step", *columns]].dropna(subset=[prefix]).drop_duplicates("step", keep="last")
    return rows.rename(columns={c: c[len(prefix) + 1:] or "mean" for c in columns}).reset_index(drop=True)


def plot(curves: dict[str, pd.DataFrame], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks = [c for c in next(iter(curves.values())).columns if c != "step"]
    columns = 3
    rows = -(-len(tracks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(10, 2.4 * rows), sharex=True, squeeze=False)
    for ax, track in zip(axes.flat, tracks):
        for name, curve in curves.items():
            if track in curve:
                ax.plot(curve["step"], curve[track], marker=".", lw=1.2, label=name)
        ax.set_title(track, fontsize=9)
        ax.axhline(0, color="grey", lw=0.5)
    for ax in axes.flat[len(tracks):]:
        ax.axis("off")
    axes.flat[0].legend(frameon=False, fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    fig.supylabel("validation Pearson r")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=PATH")
    parser.add_argument("--genome", default="human")
    parser.add_argument("--out", type=Path, required=True, help="JSON; the figure goes next to it (.png)")
    args = parser.parse_args()
    curves = {}
    for item in args.runs:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"{item}: expected NAME=PATH")
        curves[name] = val_curve(Path(path), args.genome)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({name: curve.round(4).to_dict(orient="list") for name, curve in curves.items()},
                                   indent=1) + "\n")
    plot(curves, args.out.with_suffix(".png"))
    for name, curve in curves.items():
        print(f"{name}:\n{curve.round(3).to_string(index=False)}\n")


if __name__ == "__main__":
    main()
