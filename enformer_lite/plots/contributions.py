"""Contribution figures: what drives a gene's predicted expression, and the enhancer–gene links.

Reads the outputs of ``enformer-lite contributions gather``: the enhancer–gene table
(one row per gene and candidate element in the gene's window; columns in
:data:`enformer_lite.contributions.methods.TABLE_COLUMNS`) and the directory of per-gene
bigWigs holding gradient × input per base over each gene's window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from enformer_lite.contributions.outputs import track_file_name
from enformer_lite.data.bigwig import open_bigwig
from enformer_lite.errors import InputError
from enformer_lite.plots.style import GAIN_COLOUR, LOSS_COLOUR, WIDTH, message_figure, stacked_panels, styled
from enformer_lite.plots.tracks import draw_arcs, draw_elements, draw_genes, finish_position_axis
from enformer_lite.data.regions import Region

TRACK_BINS = 600
"""The per-base contribution track is summed into this many bins across the window."""


@dataclass(frozen=True)
class GeneContributions:
    """One gene's elements (rows of the table) and its binned contribution track.

    ``track`` (bins,) holds gradient × input summed over ``track_bin`` bp per bin from
    ``region.start``, or is None when the gene has no track file.
    """

    gene: str
    chrom: str
    tss: int
    strand: str
    region: Region
    elements: pd.DataFrame
    track: npt.NDArray[np.float64] | None
    track_bin: int


def track_file(tracks_dir: str | os.PathLike[str], gene: str) -> Path:
    """The bigWig of ``gene`` in the tracks directory (unsafe characters of the id become ``_``)."""
    return Path(tracks_dir) / track_file_name(gene)


def binned_track(path: str | os.PathLike[str], chrom: str) -> tuple[Region, npt.NDArray[np.float64], int]:
    """Region covered by a per-gene bigWig and its values summed into about :data:`TRACK_BINS` bins."""
    bw = open_bigwig(str(path))
    try:
        intervals = bw.intervals(chrom)
        if not intervals:
            raise InputError(f"{path}: no values on {chrom}")
        start, end = int(intervals[0][0]), int(intervals[-1][1])
        values = np.nan_to_num(np.asarray(bw.values(chrom, start, end, numpy=True), dtype=np.float64))
    finally:
        bw.close()
    step = max(1, -(-(end - start) // TRACK_BINS))
    padded = np.concatenate([values, np.zeros(-len(values) % step)])
    return Region(chrom, start, end), padded.reshape(-1, step).sum(axis=1), step


def choose_genes(table: pd.DataFrame, genes: Sequence[str], n: int) -> list[str]:
    """``genes`` when given (each must be in the table), else the ``n`` with the highest predicted TSS signal."""
    if genes:
        unknown = [g for g in genes if g not in set(table["gene"])]
        if unknown:
            raise InputError(f"contributions table has no gene(s) {', '.join(unknown)}")
        return list(genes)
    signal = table.groupby("gene", sort=False)["gene_signal"].max().sort_values(ascending=False, kind="stable")
    return list(signal.index[:n])


def gene_contributions(
    table: pd.DataFrame, gene: str, tracks_dir: str | os.PathLike[str] | None
) -> GeneContributions:
    """Collect one gene's rows and (when present) its contribution track."""
    rows = table[table["gene"] == gene].sort_values("start", kind="stable").reset_index(drop=True)
    if rows.empty:
        raise InputError(f"contributions table has no rows for gene {gene!r}")
    chrom, tss, strand = str(rows["chrom"].iloc[0]), int(rows["tss"].iloc[0]), str(rows["strand"].iloc[0])
    path = track_file(tracks_dir, gene) if tracks_dir else None
    if path is not None and path.is_file():
        region, track, step = binned_track(path, chrom)
    else:
        lo, hi = min(int(rows["start"].min()), tss), max(int(rows["end"].max()), tss + 1)
        pad = (hi - lo) // 20 + 1
        region, track, step = Region(chrom, max(0, lo - pad), hi + pad), None, 1
    return GeneContributions(gene, chrom, tss, strand, region, rows, track, step)


@styled
def plot_contributions(
    items: Sequence[GeneContributions],
    score: str,
    genes: pd.DataFrame | None = None,
    top_links: int = 5,
    title: str = "",
    width: float = WIDTH,
) -> Figure:
    """Per gene: the contribution track, the candidate elements coloured by ``score``, arcs from
    the TSS to the ``top_links`` best-ranked elements with a positive score, and genes.

    The element row uses a symmetric colour scale (red: the element raises the
    gene's predicted signal, blue: lowers it); an arc's width and darkness grow
    with the element's score relative to the gene's best.
    """
    if not items:
        return message_figure(f"{title + ': ' if title else ''}no genes with contribution scores", width=width)
    rows = [1.2, 0.8, 0.9] + ([0.6] if genes is not None else [])
    fig, panels = stacked_panels(len(items), rows, inches_per_row=0.8, width=width)
    for (sub, axes), item in zip(panels, items):
        region = item.region
        for ax in axes:
            ax.set_xlim(region.start, region.end)
        track_ax, element_ax, arc_ax = axes[:3]
        if item.track is not None:
            x = region.start + np.arange(len(item.track) + 1) * item.track_bin
            values = np.append(item.track, item.track[-1])
            track_ax.fill_between(x, np.maximum(values, 0), step="post", color=GAIN_COLOUR, linewidth=0)
            track_ax.fill_between(x, np.minimum(values, 0), step="post", color=LOSS_COLOUR, linewidth=0)
            limit = np.abs(item.track).max(initial=0) * 1.1 or 1.0
            track_ax.set_ylim(-limit, limit)
            track_ax.axhline(0, color="#999999", linewidth=0.4)
            track_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.2g}"))
            track_ax.set_ylabel(f"gradient × input\nper {item.track_bin:,} bp", rotation=0, ha="right", va="center")
        else:
            track_ax.text(0.5, 0.5, "no contribution track", transform=track_ax.transAxes, ha="center", color="#777777")
            track_ax.set_yticks([])
        track_ax.tick_params(axis="x", bottom=False, labelbottom=False)
        values = item.elements[score].to_numpy(dtype=float) if score in item.elements else np.full(len(item.elements), np.nan)
        scale = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else float("nan")
        ranks = item.elements["rank"] if "rank" in item.elements else pd.Series(np.nan, index=item.elements.index)
        linked = (ranks.astype(float).fillna(np.inf) <= top_links).to_numpy() & (values > 0)
        names = [str(e) if keep else "" for e, keep in zip(item.elements["element"], linked)]
        draw_elements(element_ax, item.elements, region, values=values, names=names,
                      label=f"elements: {score}\n(colour ±{scale:.2g})")
        ranked = item.elements[linked]
        best = float(np.nanmax(values)) if np.isfinite(values).any() and np.nanmax(values) > 0 else 1.0
        centres = ((ranked["start"] + ranked["end"]) / 2).to_numpy(dtype=float)
        weights = ranked[score].to_numpy(dtype=float) / best
        draw_arcs(arc_ax, np.full(len(ranked), float(item.tss)), centres, weights, label=f"top {top_links}\nlinks")
        if genes is not None:
            draw_genes(axes[3], genes, region, max_lanes=2)
        for ax in axes:
            ax.axvline(item.tss, color="black", linewidth=0.6, linestyle=(0, (3, 2)))
        finish_position_axis(axes[-1], region)
        signal = item.elements["gene_signal"].iloc[0] if "gene_signal" in item.elements else float("nan")
        sub.suptitle(f"{item.gene} ({item.strand}) at {item.chrom}:{item.tss:,}; predicted TSS signal {signal:.3g}; "
                     f"{len(item.elements)} elements scored", fontsize=8, x=0.02, ha="left")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
