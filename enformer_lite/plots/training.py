"""Training curves from Lightning's CSV log (``metrics.csv`` of ``enformer-lite train``).

The log has one row per logging event with a ``step`` column and sparse metric
columns: ``train/loss`` (every few steps), ``val/loss``, ``val/<organism>/loss``,
``val/<organism>/pearson`` and ``val/pearson`` (at each validation), and the
learning rate logged by ``LearningRateMonitor`` (columns starting with ``lr-``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from enformer_lite.errors import InputError
from enformer_lite.plots.style import WIDTH, new_figure, styled

_ORGANISM_METRIC = re.compile(r"^val/(?P<organism>[^/]+)/(?P<metric>loss|pearson)$")
ORGANISM_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))
"""Line style and marker per organism (validation values are often only a few points)."""


def read_metrics(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``metrics.csv``; InputError names the file when it is missing or has no ``step`` column."""
    csv = Path(path)
    if not csv.is_file():
        raise InputError(f"{csv}: training log not found")
    try:
        metrics = pd.read_csv(csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{csv}: not a readable CSV training log: {err}") from err
    if "step" not in metrics.columns:
        raise InputError(f"{csv}: training log has no 'step' column")
    return metrics


def _series(metrics: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the rows where ``column`` was logged, sorted by step."""
    rows = metrics[["step", column]].dropna().sort_values("step")
    return rows["step"].to_numpy(float), rows[column].to_numpy(float)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median over ``window`` points (shrinking at the ends), same shape."""
    if window <= 1 or len(values) < 3:
        return values
    return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


@styled
def plot_training_curves(metrics: pd.DataFrame, title: str = "", width: float = WIDTH) -> Figure:
    """Loss, validation Pearson and learning rate against the optimiser step, stacked on one x axis.

    Training loss is drawn as logged (light) and as a running median (dark);
    validation values are points joined by lines, one line style per organism.
    """
    organisms = sorted({m["organism"] for c in metrics.columns if (m := _ORGANISM_METRIC.match(c))})
    lr_columns = [c for c in metrics.columns if c.startswith("lr-")]
    has_pearson = "val/pearson" in metrics or any(f"val/{o}/pearson" in metrics for o in organisms)
    panels = ["loss"] + (["pearson"] if has_pearson else []) + (["lr"] if lr_columns else [])
    heights = {"loss": 2.0, "pearson": 1.6, "lr": 1.0}
    fig = new_figure(height=0.7 + sum(heights[p] for p in panels), width=width)
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True,
                                      gridspec_kw={"height_ratios": [heights[p] for p in panels]}))
    ax = dict(zip(panels, axes))

    if "train/loss" in metrics:
        steps, loss = _series(metrics, "train/loss")
        ax["loss"].plot(steps, loss, color="#9ecae1", linewidth=0.6, label="train (logged)")
        ax["loss"].plot(steps, smooth(loss, max(3, len(loss) // 20)), color="#08519c", linewidth=1.4,
                        label="train (running median)")
    if "val/loss" in metrics:
        steps, loss = _series(metrics, "val/loss")
        ax["loss"].plot(steps, loss, color="#D55E00", marker="o", markersize=3, linewidth=1.2, label="validation")
    for organism, (style, marker) in zip(organisms, ORGANISM_STYLES * 4):
        column = f"val/{organism}/loss"
        if column in metrics and len(organisms) > 1:
            steps, loss = _series(metrics, column)
            ax["loss"].plot(steps, loss, color="#E69F00", linestyle=style, marker=marker, markersize=3,
                            linewidth=1.0, label=f"validation, {organism}")
    ax["loss"].set_ylabel("loss")
    _log_scale_if_wide(ax["loss"])
    ax["loss"].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    if "pearson" in ax:
        for organism, (style, marker) in zip(organisms, ORGANISM_STYLES * 4):
            column = f"val/{organism}/pearson"
            if column in metrics:
                steps, r = _series(metrics, column)
                ax["pearson"].plot(steps, r, color="#009E73", linestyle=style, marker=marker, markersize=4,
                                   linewidth=1.2, label=organism)
        if "val/pearson" in metrics and len(organisms) > 1:
            steps, r = _series(metrics, "val/pearson")
            ax["pearson"].plot(steps, r, color="#000000", marker="s", markersize=3, linewidth=1.0,
                               label="mean of organisms")
        ax["pearson"].set_ylabel("validation\nmean Pearson r")
        ax["pearson"].legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax["pearson"].grid(axis="y", linewidth=0.3, alpha=0.6)

    if "lr" in ax:
        steps, lr = _series(metrics, lr_columns[0])
        ax["lr"].plot(steps, lr, color="#CC79A7", linewidth=1.2)
        ax["lr"].set_ylabel("learning rate")
        ax["lr"].ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    axes[-1].set_xlabel("optimiser step")
    last = int(metrics["step"].max()) if len(metrics) else 0
    fig.suptitle(f"{title + ': ' if title else ''}training curves (last logged step {last:,})", fontsize=9)
    return fig


def _log_scale_if_wide(ax) -> None:
    """Use a log y axis when every plotted value is positive and they span more than a factor of 20.

    (A Poisson loss without its constant term can be negative; then the axis stays linear.)
    """
    values = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.get_lines()] or [np.array([])])
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() > 20:
        ax.set_yscale("log")
