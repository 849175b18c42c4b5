"""Model accuracy on the test set: per-track Pearson and predicted vs observed CAGE at TSSs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

from enformer_lite.errors import InputError
from enformer_lite.plots.style import WIDTH, assay_colour, message_figure, new_figure, styled

EVAL_COLUMNS = ("genome", "track_id", "assay", "pearson")
TSS_COLUMNS = ("gene_id", "track_id", "observed", "predicted")


def read_eval_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``results/eval/{genome}.tsv`` (written by ``enformer-lite evaluate``); checks the columns used here."""
    table_path = Path(path)
    if not table_path.is_file():
        raise InputError(f"{table_path}: evaluation table not found")
    table = pd.read_csv(table_path, sep="\t", na_values=["NA"])
    missing = [c for c in EVAL_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{table_path}: evaluation table lacks column(s) {', '.join(missing)}")
    return table


@styled
def plot_track_pearson(tables: Sequence[pd.DataFrame], width: float = WIDTH) -> Figure:
    """Per-track Pearson r on the test set, sorted, one panel per genome.

    Each table has columns genome, track_id, assay, pearson (over all test bins)
    and optionally pearson_tss (CAGE at TSS across genes), drawn as a second
    marker. Bars are coloured by assay; the dashed line is the genome's mean over
    tracks; the values stand in columns to the right ("bins", "TSS").
    """
    if not tables:
        raise ValueError("plot_track_pearson: no tables")
    counts = [len(t) for t in tables]
    height = 0.9 + 0.19 * sum(counts) + 0.45 * len(tables)
    fig = new_figure(height=max(height, 2.4), width=width)
    axes = np.atleast_1d(fig.subplots(len(tables), 1, gridspec_kw={"height_ratios": [max(c, 1) + 1.5 for c in counts]}))
    has_tss = any("pearson_tss" in t and t["pearson_tss"].notna().any() for t in tables)
    for ax, table in zip(axes, tables):
        ordered = table.sort_values("pearson", ascending=True, na_position="first").reset_index(drop=True)
        y = np.arange(len(ordered))
        colours = [assay_colour(a) for a in ordered["assay"].fillna("")]
        values = ordered["pearson"].to_numpy(dtype=float)
        ax.barh(y, np.nan_to_num(values), color=colours, height=0.7)
        # The numbers stand in columns right of the axes, like a table beside the bars.
        label_at = ax.get_yaxis_transform()
        ax.text(1.03, len(ordered) - 0.3, "bins", transform=label_at, fontsize=7, ha="center", weight="bold")
        for yi, v in zip(y, values):
            ax.text(1.03, yi, _fmt(v), transform=label_at, va="center", ha="center", fontsize=7)
        tss = ordered["pearson_tss"].to_numpy(dtype=float) if "pearson_tss" in ordered else np.full(len(y), np.nan)
        if has_tss:
            ax.scatter(tss[np.isfinite(tss)], y[np.isfinite(tss)], marker="D", s=18, color="black", zorder=3)
            ax.text(1.11, len(ordered) - 0.3, "TSS", transform=label_at, fontsize=7, ha="center", weight="bold")
            for yi, v in zip(y, tss):
                if np.isfinite(v):
                    ax.text(1.11, yi, _fmt(v), transform=label_at, va="center", ha="center", fontsize=7)
        ax.axvline(np.nanmean(values), color="#444444", linestyle="--", linewidth=0.8)
        ax.set_yticks(y, ordered["track_id"].astype(str))
        # Negative correlations, of bins or at the TSS, stay inside the axes.
        lowest = np.nanmin(np.concatenate([values, tss]), initial=0.0)
        ax.set_xlim(min(lowest, 0.0) - 0.05, 1.0)
        ax.set_ylim(-0.7, len(ordered) + 0.2)
        genome = str(ordered["genome"].iloc[0]) if len(ordered) else "?"
        ax.set_title(f"{genome}: mean r = {np.nanmean(values):.3f} over {len(ordered)} tracks", loc="left")
        ax.set_xlabel("Pearson r, predicted vs observed")
    assays = sorted({a for t in tables for a in t["assay"].fillna("").astype(str)})
    handles = [Line2D([], [], color=assay_colour(a), linewidth=6, label=a or "other") for a in assays]
    handles.append(Line2D([], [], color="#444444", linestyle="--", linewidth=0.8, label="mean over tracks (bins)"))
    if has_tss:
        handles.append(Line2D([], [], marker="D", color="black", linestyle="", markersize=4,
                              label="CAGE at TSS across test genes"))
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6), frameon=False)
    return fig


def read_tss_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Per-gene TSS values (gene_id, track_id, observed, predicted, ...) of ``enformer-lite evaluate --tss-out``."""
    table_path = Path(path)
    if not table_path.is_file():
        raise InputError(f"{table_path}: TSS table not found")
    table = pd.read_csv(table_path, sep="\t")
    missing = [c for c in TSS_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{table_path}: TSS table lacks column(s) {', '.join(missing)}")
    return table


@styled
def plot_tss_scatter(values: pd.DataFrame, title: str = "", width: float = WIDTH) -> Figure:
    """Predicted vs observed CAGE at the TSS of test genes, one panel per CAGE track.

    ``values`` has columns track_id, observed and predicted (one row per gene and
    track, training scale). Axes are log(1 + value), each with its own range; each
    panel gives Pearson r on that scale and on the raw values, with the number of genes. Without rows, the
    figure says so (a workflow without CAGE tracks still gets its figure).
    """
    tracks = list(dict.fromkeys(values["track_id"]))
    if not tracks:
        return message_figure(f"{title + ': ' if title else ''}no CAGE tracks, or no gene with its TSS in a test window",
                              width=width)
    ncols = min(len(tracks), 3)
    nrows = -(-len(tracks) // ncols)
    panel = width / 3  # square panels of the same size whatever the number of tracks
    fig = new_figure(height=0.5 + 1.1 * panel * nrows, width=panel * ncols)
    fig.get_layout_engine().set(h_pad=0.12, hspace=0.04)  # room between a panel's x label and the next title
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    colour = assay_colour("CAGE")
    for ax, track in zip(axes, tracks):
        rows = values[values["track_id"] == track]
        obs = np.log1p(np.maximum(rows["observed"].to_numpy(float), 0))
        pred = np.log1p(np.maximum(rows["predicted"].to_numpy(float), 0))
        ax.scatter(obs, pred, s=9, color=colour, alpha=0.7, linewidth=0)
        # Each axis spans its own data, so the ranking shows even when the predicted level is off.
        ax.set_box_aspect(1)
        ax.set_xlabel("observed, log(1 + CAGE at TSS)")
        ax.set_ylabel("predicted, log(1 + CAGE at TSS)")
        r_log = _pearson(obs, pred)
        r_raw = _pearson(rows["observed"].to_numpy(float), rows["predicted"].to_numpy(float))
        genes = "gene" if len(rows) == 1 else "genes"
        ax.set_title(f"{track}, n = {len(rows)} {genes}\nr = {_fmt(r_log)} (log), {_fmt(r_raw)} (raw)", fontsize=8)
    for ax in axes[len(tracks):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _fmt(r: float) -> str:
    return "NA" if not np.isfinite(r) else f"{r:.2f}"


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(stats.pearsonr(x, y).statistic)
