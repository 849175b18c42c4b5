"""Variant-effect figures: the distribution of scores, and ref/alt predictions of the strongest variants.

Both read the HDF5 score file of ``enformer-lite score-variants`` / ``gather-variants``
(``results/variants/{name}.h5``; layout in :mod:`enformer_lite.variants.store`). The
"strength" of an allele is its largest |SAD| over tracks (SAD: sum over target bins of
alt − ref prediction on the track's original scale). For the strongest alleles the model
is run again on the reference and alternative window the scoring used (same window start,
kipoiseq-style allele insertion and test-time averaging), and drawn in the scores' unit, so
the bars of the difference panel sum to the SAD printed above them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from enformer_lite.plots.style import (
    ALT_COLOUR,
    GAIN_COLOUR,
    LOSS_COLOUR,
    REF_COLOUR,
    WIDTH,
    assay_colour,
    message_figure,
    new_figure,
    stacked_panels,
    styled,
)
from enformer_lite.plots.tracks import draw_genes, finish_position_axis
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.data.regions import Region

VARIANT_CLASSES = ("SNV", "indel", "MNV")


@dataclass(frozen=True)
class VariantScores:
    """Scored alleles of one score file: ``alleles`` (N rows), ``sad`` (N, T) and the tracks (T)."""

    alleles: pd.DataFrame
    sad: npt.NDArray[np.float32]
    tracks: tuple[TrackSpec, ...]
    attrs: dict[str, Any]

    @property
    def strongest_track(self) -> npt.NDArray[np.intp]:
        """Per allele, the track index of the largest |SAD| (N,)."""
        return np.nanargmax(np.abs(np.nan_to_num(self.sad, nan=0.0)), axis=1) if len(self.sad) else np.zeros(0, np.intp)

    @property
    def max_abs_sad(self) -> npt.NDArray[np.float32]:
        """Per allele, the largest |SAD| over tracks (N,)."""
        return np.abs(np.nan_to_num(self.sad, nan=0.0)).max(axis=1) if len(self.sad) else np.zeros(0, np.float32)


def read_variant_scores(path: str | os.PathLike[str]) -> VariantScores:
    """Read alleles, SAD scores, tracks and attributes of a variant score file (InputError names a bad file)."""
    from enformer_lite.variants.store import file_tracks, open_scores, read_table

    with open_scores(path) as handle:
        alleles = read_table(handle["alleles"])
        sad = handle["scores/SAD"][()].astype(np.float32)
        tracks = tuple(file_tracks(handle))
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in handle.attrs.items()}
    return VariantScores(alleles, sad.reshape(len(alleles), len(tracks)), tracks, attrs)


def variant_class(ref: str, alt: str) -> str:
    """SNV (1 bp → 1 bp), indel (lengths differ) or MNV (several bases, same length)."""
    if len(ref) != len(alt):
        return "indel"
    return "SNV" if len(ref) == 1 else "MNV"


def top_alleles(scores: VariantScores, n: int) -> npt.NDArray[np.intp]:
    """Rows of the ``n`` alleles with the largest |SAD| over tracks, strongest first (ties: VCF order)."""
    return np.argsort(-scores.max_abs_sad, kind="stable")[:n]


def _log_ticks(axis, values: npt.NDArray[np.floating]) -> None:
    """Compact log-axis labels: at 1, 2 and 5 × powers of ten over less than two decades of
    positive ``values``, else at (some) powers of ten only."""
    positive = values[values > 0]
    decades = np.log10(positive.max() / positive.min()) if len(positive) else 0.0
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)) if decades < 2 else LogLocator(numticks=6))
    axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")))
    axis.set_minor_formatter(NullFormatter())


@styled
def plot_score_distribution(scores: VariantScores, title: str = "", width: float = WIDTH) -> Figure:
    """Left: histogram of each allele's largest |SAD| by variant class (log x). Right: |SAD| per track.

    Alleles whose every SAD is 0 cannot be drawn on a log axis; their number is given.
    """
    if not len(scores.sad):
        return message_figure(f"{title + ': ' if title else ''}no scored variants", width=width)
    fig = new_figure(height=3.0 + 0.12 * len(scores.tracks), width=width)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    strength = scores.max_abs_sad
    positive = strength[strength > 0]
    classes = np.array([variant_class(r, a) for r, a in zip(scores.alleles["ref"], scores.alleles["alt"])])
    if len(positive):
        lo, hi = np.log10(positive.min()), np.log10(positive.max())
        edges = np.logspace(lo - 0.05, hi + 0.05, 31)
        colours = {"SNV": "#0072B2", "indel": "#D55E00", "MNV": "#009E73"}
        for cls in VARIANT_CLASSES:
            chosen = strength[(classes == cls) & (strength > 0)]
            if len(chosen):
                left.hist(chosen, bins=edges, histtype="step", linewidth=1.4, color=colours[cls],
                          label=f"{cls} (n = {len(chosen):,})")
        left.set_xscale("log")
        _log_ticks(left.xaxis, positive)
        left.yaxis.set_major_locator(MaxNLocator(integer=True))
        left.legend(frameon=False, loc="best")
    zeros = int((strength == 0).sum())
    left.set_xlabel("largest |SAD| over tracks")
    left.set_ylabel("alleles")
    left.set_title(f"{len(strength):,} scored alleles" + (f" ({zeros:,} with SAD = 0 not shown)" if zeros else ""),
                   loc="left")

    values = [np.abs(scores.sad[:, t.index]) for t in scores.tracks]
    shown = [v[v > 0] for v in values]
    y = np.arange(len(scores.tracks))[::-1]
    box = right.boxplot([s if len(s) else [np.nan] for s in shown], positions=y, orientation="horizontal",
                        widths=0.6, patch_artist=True, showfliers=True,
                        flierprops={"markersize": 2, "alpha": 0.5}, medianprops={"color": "black"})
    for patch, track in zip(box["boxes"], scores.tracks):
        patch.set_facecolor(assay_colour(track.assay))
        patch.set_alpha(0.7)
    right.set_yticks(y, [t.id for t in scores.tracks])
    right.set_xscale("log")
    _log_ticks(right.xaxis, np.concatenate(shown))
    right.set_xlabel("|SAD| per track (alleles with SAD ≠ 0)")
    right.set_title("per track", loc="left")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


@dataclass(frozen=True)
class VariantPanel:
    """Predictions behind one allele's score over its window's target bins.

    ``ref``/``alt`` are (bins,) of one track in the unit of the scores (``native`` of
    :class:`~enformer_lite.inference.signal.Untransform`: per bin, the sum of the bigWig's
    per-base values for ``sum`` tracks, their mean for ``mean`` tracks), so
    ``sum(alt - ref) == sad``; ``region`` is the target span; ``position`` the variant's 0-based start.
    """

    label: str
    track: TrackSpec
    region: Region
    bin_size: int
    position: int
    ref: npt.NDArray[np.float32]
    alt: npt.NDArray[np.float32]
    sad: float


def variant_panels(
    scores: VariantScores,
    rows: Sequence[int],
    checkpoint: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    device: str = "auto",
) -> list[VariantPanel]:
    """Re-predict the reference and alternative window of each allele row; one panel per row.

    Each panel shows the allele's strongest track in the scores' unit (``native``). The model
    head, window geometry, centring grid, tracks and test-time averaging (``reverse_complement``,
    ``shifts`` of the file's ``settings``) are the score file's.
    """
    import json

    import torch

    from enformer_lite.data.fasta import open_fasta
    from enformer_lite.data.geometry import WindowGeometry
    from enformer_lite.data.sequence import one_hot
    from enformer_lite.inference.signal import Untransform
    from enformer_lite.inference.trained import open_model
    from enformer_lite.inference.tta import TTAConfig, predict
    from enformer_lite.variants.layout import WindowLayout, window_sequences

    trained = open_model(checkpoint, str(scores.attrs["head"]), device)
    geometry = WindowGeometry.from_mapping(scores.attrs)
    layout = WindowLayout(geometry, int(scores.attrs.get("grid", 1)))
    native = Untransform(scores.tracks, "native", geometry.bin_size)
    settings = json.loads(str(scores.attrs.get("settings", "{}")))
    tta = TTAConfig(bool(settings.get("reverse_complement", False)), tuple(settings.get("shifts") or (0,)))
    strand_pair = [t.strand_pair for t in scores.tracks]
    fasta = open_fasta(fasta_path)
    strongest = scores.strongest_track
    panels = []
    for row in rows:
        allele = scores.alleles.iloc[int(row)]
        start = int(allele["pos"]) - 1
        window_start = int(allele["window_start"])
        ref_codes, (alt_codes,) = window_sequences(fasta, str(allele["chrom"]), window_start,
                                                  [(start, str(allele["ref"]), str(allele["alt"]))], layout)
        x = torch.from_numpy(one_hot(np.stack([ref_codes, alt_codes]))).to(trained.device)
        with torch.inference_mode():
            pred = native(predict(trained.model, x, trained.head, strand_pair, tta).cpu().numpy())  # (2, bins, T)
        track = scores.tracks[int(strongest[row])]
        ref, alt = pred[0, :, track.index], pred[1, :, track.index]
        target = geometry.target_start(window_start)
        name = allele["id"] if str(allele["id"]) not in ("", ".") else ""
        label = f"{allele['chrom']}:{int(allele['pos']):,} {allele['ref']}>{allele['alt']}" + (f" ({name})" if name else "")
        panels.append(VariantPanel(label, track, Region(str(allele["chrom"]), target, target + geometry.target_span),
                                   geometry.bin_size, start, ref, alt, float(scores.sad[row, track.index])))
    return panels


ZOOM_BINS = 16
"""The zoomed panel shows the variant's bin ± this many bins."""


def _draw_ref_alt(pred_ax, diff_ax, panel: VariantPanel, lo: int, hi: int) -> None:
    """Reference/alternative step plot and their difference for bins ``lo:hi`` of ``panel``."""
    x = panel.region.start + np.arange(lo, hi + 1) * panel.bin_size
    ref, alt = panel.ref[lo:hi], panel.alt[lo:hi]
    pred_ax.fill_between(x, np.append(ref, ref[-1]), step="post", color=REF_COLOUR, alpha=0.35, linewidth=0)
    pred_ax.step(x, np.append(alt, alt[-1]), where="post", color=ALT_COLOUR, linewidth=0.8)
    pred_ax.set_ylim(0, max(ref.max(initial=0), alt.max(initial=0)) * 1.08 or 1.0)
    diff = alt - ref
    diff_ax.bar(x[:-1], diff, width=panel.bin_size, align="edge", color=np.where(diff >= 0, GAIN_COLOUR, LOSS_COLOUR),
                linewidth=0)
    limit = np.abs(diff).max(initial=0) * 1.1 or 1.0
    diff_ax.set_ylim(-limit, limit)
    diff_ax.axhline(0, color="#999999", linewidth=0.5)
    for ax in (pred_ax, diff_ax):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.2g}"))
        ax.set_xlim(x[0], x[-1])


@styled
def plot_top_variants(
    panels: Sequence[VariantPanel], genes: pd.DataFrame | None = None, title: str = "", width: float = WIDTH
) -> Figure:
    """For each allele: predicted reference (grey) and alternative (orange) signal of its strongest
    track, their difference below (red: gain, blue: loss) and genes; left over all target bins,
    right zoomed to the variant's bin ± :data:`ZOOM_BINS` bins. The dashed line marks the variant."""
    if not panels:
        return message_figure(f"{title + ': ' if title else ''}no scored variants", width=width)
    rows = [1.3, 1.0] + ([0.6] if genes is not None else [])
    fig, stacked = stacked_panels(len(panels), rows, inches_per_row=0.75, width=width, columns=[3.0, 1.0])
    for (sub, axes), panel in zip(stacked, panels):
        centre = (panel.position - panel.region.start) // panel.bin_size
        zoom = (max(0, centre - ZOOM_BINS), min(len(panel.ref), centre + ZOOM_BINS + 1))
        for column, (lo, hi) in enumerate(((0, len(panel.ref)), zoom)):
            _draw_ref_alt(axes[0, column], axes[1, column], panel, lo, hi)
            shown = Region(panel.region.chrom, panel.region.start + lo * panel.bin_size,
                           panel.region.start + hi * panel.bin_size)
            if genes is not None:
                draw_genes(axes[2, column], genes, shown, max_lanes=2)
                axes[2, column].set_xlim(shown.start, shown.end)
            for ax in axes[:, column]:
                ax.axvline(panel.position, color="black", linewidth=0.6, linestyle=(0, (3, 2)))
            for ax in axes[:-1, column]:
                ax.tick_params(axis="x", bottom=False, labelbottom=False)
            finish_position_axis(axes[-1, column], shown)
        axes[-1, 1].xaxis.set_major_locator(MaxNLocator(2))
        axes[-1, 1].set_xlabel(f"zoom: ±{ZOOM_BINS * panel.bin_size:,} bp")
        unit = f"{'sum' if panel.track.sum_stat == 'sum' else 'mean'} per\n{panel.bin_size}-bp bin"
        axes[0, 0].set_ylabel(f"predicted\n{unit}", rotation=0, ha="right", va="center")
        axes[1, 0].set_ylabel("alt − ref\n(Σ = SAD)", rotation=0, ha="right", va="center")
        if genes is not None:
            axes[2, 1].set_ylabel("")
        sub.suptitle(f"{panel.label}   track {panel.track.id}: SAD = {panel.sad:+.3g}   "
                     "(grey: reference, orange line: alternative)", fontsize=8, x=0.02, ha="left")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
