"""Signal tracks over a genomic region: observed and predicted rows, genes, candidate elements.

The drawing helpers (:func:`draw_genes`, :func:`draw_elements`, :func:`draw_arcs`)
are shared with the contribution figure, so every figure that shows a region
looks the same: x is the genomic position in bp, genes are bent arrows at the
TSS pointing in the direction of transcription, elements are boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Arc, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from enformer_lite.plots.readers import region_label
from enformer_lite.plots.style import DPI, OBSERVED_ALPHA, WIDTH, assay_colour, format_bp, new_figure, styled
from enformer_lite.data.regions import Region

ROW_HEIGHT = 0.42
"""Height of one signal row in inches."""

LABEL_CHAR_WIDTH = 0.058
"""Approximate width of one 7-pt label character in inches (for lane assignment)."""


@dataclass(frozen=True)
class TrackSignal:
    """Per-bin signal of one track over the plotted region.

    ``observed`` and ``predicted`` are (bins,) arrays in the same unit (or None
    when that side is not shown); bin ``i`` covers ``start + i * bin_size``.
    """

    id: str
    assay: str = ""
    strand: str = "."
    observed: npt.NDArray[np.floating] | None = None
    predicted: npt.NDArray[np.floating] | None = None

    @property
    def label(self) -> str:
        strand = f" ({self.strand})" if self.strand in ("+", "-") else ""
        return f"{self.id}{strand}"


def _signal_rows(signals: Sequence[TrackSignal]) -> list[tuple[TrackSignal, str, np.ndarray]]:
    rows = []
    for signal in signals:
        for kind in ("observed", "predicted"):
            values = getattr(signal, kind)
            if values is not None:
                rows.append((signal, kind, np.asarray(values, dtype=np.float64)))
    return rows


def _compact(value: float) -> str:
    return f"{value:.3g}"


def draw_signal(
    ax: Axes, x: np.ndarray, values: np.ndarray, colour: str, ymax: float, filled: bool = True
) -> None:
    """Step plot of per-bin ``values`` (bins,) at bin starts ``x`` (bins + 1 edges), y from 0 to ``ymax``."""
    y = np.append(values, values[-1] if len(values) else 0.0)
    if filled:
        ax.fill_between(x, y, step="post", color=colour, alpha=OBSERVED_ALPHA, linewidth=0)
    else:
        ax.fill_between(x, y, step="post", color=colour, alpha=0.9, linewidth=0)
    top = ymax if ymax > 0 else 1.0
    ax.set_ylim(0, top * 1.05)
    ax.set_yticks([0, top])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _compact(v)))
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)


def _lanes(starts: np.ndarray, ends: np.ndarray, gap: float) -> np.ndarray:
    """Greedy lane per interval so that intervals (sorted by start) in one lane are ``gap`` apart."""
    lane_end: list[float] = []
    lanes = np.zeros(len(starts), dtype=int)
    for i in np.argsort(starts, kind="stable"):
        for lane, end in enumerate(lane_end):
            if starts[i] >= end + gap:
                lanes[i], lane_end[lane] = lane, ends[i]
                break
        else:
            lanes[i] = len(lane_end)
            lane_end.append(ends[i])
    return lanes


def _bp_per_inch(ax: Axes, region: Region) -> float:
    # Before layout the axes extent is approximate (the final axes are narrower once labels take
    # their room), so err towards more bp per inch: labels are spaced a little generously.
    width_in = ax.get_window_extent().width / ax.get_figure(root=True).dpi
    return 1.2 * (region.end - region.start) / max(width_in, 1e-6)


def draw_genes(ax: Axes, genes: pd.DataFrame, region: Region, max_lanes: int = 3) -> int:
    """Genes as bent arrows at their TSS pointing downstream, labelled with their id.

    ``genes`` has columns chrom, tss, strand and gene_id (genes BED6). Labels are
    spread over up to ``max_lanes`` rows so that they do not overlap; when more
    would be needed, the remaining labels are left out (arrows stay). Returns
    the number of rows used (the y range is 0 to that number).
    """
    inside = genes[(genes["chrom"] == region.chrom) & (genes["tss"] >= region.start) & (genes["tss"] < region.end)]
    inside = inside.sort_values("tss")
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("genes", rotation=0, ha="right", va="center")
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    if inside.empty:
        return 1
    span = region.end - region.start
    arrow = 0.025 * span
    bp_per_inch = _bp_per_inch(ax, region)
    tss = inside["tss"].to_numpy(dtype=float)
    forward = (inside["strand"] != "-").to_numpy()
    label_width = np.array([len(str(g)) for g in inside["gene_id"]]) * LABEL_CHAR_WIDTH * bp_per_inch
    # A label starts at the arrow head on + genes and ends there on - genes.
    head = np.where(forward, tss + arrow, tss - arrow)
    # A gene occupies its TSS line, its arrow and its label.
    lo = np.where(forward, tss, head - label_width)
    hi = np.where(forward, head + label_width, tss)
    lanes = _lanes(lo, hi, gap=0.01 * span)
    used = int(min(lanes.max() + 1, max_lanes))
    ax.set_ylim(0, used)
    for t, fwd, lane, gene_id, h in zip(tss, forward, lanes, inside["gene_id"], head):
        base = used - 1 - min(lane, used - 1) + 0.15
        top = base + 0.45
        colour = "#222222"
        ax.plot([t, t], [base, top], color=colour, linewidth=1.0)
        ax.annotate(
            "", xy=(h, top), xytext=(t, top),
            arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.0, "mutation_scale": 7},
        )
        if lane < max_lanes:
            ax.text(h, top, f" {gene_id} ", ha="left" if fwd else "right",
                    va="center", fontsize=7, clip_on=True)
    return used


def draw_elements(
    ax: Axes,
    elements: pd.DataFrame,
    region: Region,
    values: npt.NDArray[np.floating] | None = None,
    label: str = "elements",
    cmap: str = "RdBu_r",
    names: Sequence[str] | None = None,
    name_lanes: int = 2,
) -> None:
    """Candidate elements (BED columns start, end) as boxes; coloured by ``values`` (E,) when given.

    With ``values``, the colour scale is symmetric around 0 (blue: lowers the
    target, red: raises it). ``names`` (E,) are written above their boxes (empty
    strings are skipped), spread over up to ``name_lanes`` rows so that they do
    not overlap; names that do not fit are left out.
    """
    lane_height = 0.55
    ax.set_ylim(0, 0.75 + (lane_height * name_lanes if names is not None else 0))
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center")
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    if elements.empty:
        return
    min_width = (region.end - region.start) / 400  # keep short elements visible
    colours: list[str | tuple[float, ...]]
    if values is None:
        colours = ["#6b6b6b"] * len(elements)
    else:
        import matplotlib

        limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
        norm = matplotlib.colors.Normalize(-limit or -1.0, limit or 1.0)
        colours = [matplotlib.colormaps[cmap](norm(v)) if np.isfinite(v) else "#cccccc" for v in values]
    centres = elements[["start", "end"]].to_numpy(dtype=float).mean(axis=1)
    for (start, end), centre, colour in zip(elements[["start", "end"]].to_numpy(), centres, colours):
        width = max(end - start, min_width)
        ax.add_patch(Rectangle((centre - width / 2, 0.1), width, 0.5, facecolor=colour, edgecolor="#777777",
                               linewidth=0.4))
    if names is None:
        return
    shown = np.array([bool(n) for n in names])
    half = np.array([len(n) for n in names]) * LABEL_CHAR_WIDTH * 0.85 * _bp_per_inch(ax, region) / 2  # 6-pt text
    lanes = _lanes(centres[shown] - half[shown], centres[shown] + half[shown], gap=0.005 * (region.end - region.start))
    for centre, name, lane in zip(centres[shown], np.asarray(names, dtype=object)[shown], lanes):
        if lane < name_lanes:
            ax.text(centre, 0.7 + lane_height * lane, str(name), ha="center", va="bottom", fontsize=6, clip_on=True)


def draw_arcs(
    ax: Axes, anchors: np.ndarray, targets: np.ndarray, weights: np.ndarray, colour: str = "#7B3294", label: str = "links"
) -> None:
    """Arcs from ``anchors`` (K,) to ``targets`` (K,) (bp); line width and opacity grow with ``weights`` (K,) in [0, 1]."""
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center")
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    ax.set_ylim(0, 1.05)
    spans = np.abs(np.asarray(targets, float) - np.asarray(anchors, float))
    widest = spans.max() if len(spans) else 1.0
    for a, t, w, s in zip(anchors, targets, weights, spans):
        if not np.isfinite(w) or w <= 0:
            continue
        height = 2 * max(s / widest, 0.05)  # an arc's height shows its span; the widest reaches the top
        ax.add_patch(Arc(((a + t) / 2, 0), s, height, theta1=0, theta2=180, color=colour,
                         linewidth=0.5 + 2.0 * float(w), alpha=0.35 + 0.65 * float(w)))


def finish_position_axis(ax: Axes, region: Region) -> None:
    """Genomic x axis with thousands separators on the bottom row."""
    ax.spines["bottom"].set_visible(True)
    ax.tick_params(axis="x", bottom=True, labelbottom=True)
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(FuncFormatter(format_bp))
    ax.set_xlabel(f"{region.chrom} position (bp)")


def _figure_height(ratios: Sequence[float]) -> float:
    """Inches for rows of these height ratios (1 = one signal row) plus title and x axis, in whole pixels."""
    return round((1.25 + ROW_HEIGHT * sum(ratios)) * DPI) / DPI


@styled
def plot_tracks(
    region: Region,
    bin_size: int,
    signals: Sequence[TrackSignal],
    genes: pd.DataFrame | None = None,
    elements: pd.DataFrame | None = None,
    title: str | None = None,
    unit: str = "mean signal per bp",
    marks: Sequence[int] = (),
    width: float = WIDTH,
    shared_scale: bool = False,
) -> Figure:
    """Observed and predicted tracks stacked on one genomic axis.

    Args:
        region: the plotted interval; bin ``i`` of each signal starts at ``region.start + i * bin_size``.
        bin_size: bp per value.
        signals: tracks in display order; each gives one row per side present
            (observed filled lighter, predicted darker).
        genes: genes BED6 table (chrom, tss, strand, gene_id) or None.
        elements: candidate elements (BED columns) or None.
        title: first title line (the region is always added).
        unit: what the y values are, shown under the title.
        marks: positions (bp) to mark with a vertical line across all rows (e.g. a variant).
        width: figure width in inches.
        shared_scale: give the observed and predicted rows of a track the same y range
            (default: each row up to its own maximum, which shows the shape of a
            prediction even when its scale is off; the maximum is the top tick).
    """
    rows = _signal_rows(signals)
    heights = [1.0] * len(rows)
    if genes is not None:
        heights.append(0.8)
    if elements is not None:
        heights.append(0.6)
    if not heights:
        raise ValueError("plot_tracks: nothing to draw (no signals, genes or elements)")
    fig = new_figure(height=_figure_height(heights), width=width)
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    axes = np.array([fig.add_subplot(grid[i]) for i in range(len(heights))])
    for ax in axes[1:]:
        ax.sharex(axes[0])
    n_bins = max((len(v) for _, _, v in rows), default=0)
    x = region.start + np.arange(n_bins + 1) * bin_size
    if shared_scale:
        track_max = {s.id: max(float(np.max(v, initial=0.0)) for t, _, v in rows if t.id == s.id) for s, _, _ in rows}
        ymax = [track_max[signal.id] for signal, _, _ in rows]
    else:
        ymax = [float(np.max(values, initial=0.0)) for _, _, values in rows]
    for ax, (signal, kind, values), top in zip(axes, rows, ymax):
        colour = assay_colour(signal.assay)
        draw_signal(ax, x[: len(values) + 1], values, colour, top, filled=kind == "observed")
        ax.set_ylabel(f"{signal.label}\n{kind}", rotation=0, ha="right", va="center", fontsize=7)
    k = len(rows)
    if genes is not None:
        axes[k].set_xlim(region.start, region.end)
        heights[k] = 0.8 * draw_genes(axes[k], genes, region)
        grid.set_height_ratios(heights)
        fig.set_figheight(_figure_height(heights))
        k += 1
    if elements is not None:
        draw_elements(axes[k], elements, region, label="candidate\nelements")
    for ax in axes:
        for pos in marks:
            ax.axvline(pos, color="#000000", linewidth=0.6, linestyle=(0, (3, 2)))
    axes[0].set_xlim(region.start, region.end)
    finish_position_axis(axes[-1], region)
    heading = f"{title}  ·  {region_label(region)}" if title else region_label(region)
    kinds = {kind for _, kind, _ in rows}
    scale = "shared y scale per track" if shared_scale else "each row scaled to its maximum"
    legend = f"; observed: light, predicted: dark; {scale}" if len(kinds) == 2 else f"; {scale}"
    fig.suptitle(f"{heading}  ({region.end - region.start:,} bp)\n{unit}, {bin_size}-bp bins{legend}", fontsize=8)
    return fig
