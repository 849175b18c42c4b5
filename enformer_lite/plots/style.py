"""Shared look of the figures and writing them to disk."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window
logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting logs every glyph at INFO

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from enformer_lite.atomic import atomic_output  # noqa: E402
from enformer_lite.errors import InputError  # noqa: E402

DPI = 150
"""Resolution of PNG output (dots per inch); figure sizes are given in inches."""

WIDTH = 8.0
"""Default figure width in inches (fits a report page and a README)."""

FORMATS = ("png", "pdf")

# Colour-blind-safe colours (Okabe & Ito) per assay; other assays cycle through the rest.
ASSAY_COLOURS = {
    "DNASE": "#0072B2",
    "ATAC": "#56B4E9",
    "CAGE": "#D55E00",
    "CHIP": "#009E73",
    "RNA": "#CC79A7",
}
_OTHER_COLOURS = ("#E69F00", "#CC79A7", "#000000", "#F0E442")
OBSERVED_ALPHA = 0.55
REF_COLOUR = "#555555"
ALT_COLOUR = "#D55E00"
GAIN_COLOUR = "#D55E00"
LOSS_COLOUR = "#0072B2"

STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,  # editable text in PDFs
}


def assay_colour(assay: str) -> str:
    """Colour of an assay (case-insensitive); unknown assays get a stable colour from the rest."""
    key = assay.upper()
    if key in ASSAY_COLOURS:
        return ASSAY_COLOURS[key]
    return _OTHER_COLOURS[sum(map(ord, key)) % len(_OTHER_COLOURS)]


def new_figure(height: float, width: float = WIDTH) -> Figure:
    """An empty figure of ``width`` × ``height`` inches (rounded to whole pixels) with the project style."""
    with plt.rc_context(STYLE):
        return Figure(figsize=(round(width * DPI) / DPI, round(height * DPI) / DPI), dpi=DPI, layout="constrained")


def styled(func):
    """Decorator: run a figure function inside the project's matplotlib style."""

    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return func(*args, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    wrapper.__wrapped__ = func
    return wrapper


@styled
def message_figure(text: str, width: float = WIDTH, height: float = 1.5) -> Figure:
    """A figure that only says ``text`` (for results with nothing to draw)."""
    fig = new_figure(height=height, width=width)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, wrap=True)
    return fig


def stacked_panels(
    n: int, rows: list[float], inches_per_row: float, width: float = WIDTH, columns: list[float] | None = None
) -> tuple[Figure, list[tuple[object, np.ndarray]]]:
    """A figure of ``n`` stacked sub-figures, each with axes rows of height ratios ``rows``.

    With ``columns`` (width ratios), each sub-figure has that many columns of axes;
    axes share x within a column. Returns the figure and, per sub-figure,
    ``(subfigure, axes)`` with axes of shape (rows,) or (rows, columns).
    """
    fig = new_figure(height=0.4 + inches_per_row * sum(rows) * n, width=width)
    out = []
    for sub in np.atleast_1d(fig.subfigures(n, 1)):
        grid = {"height_ratios": rows, **({"width_ratios": columns} if columns else {})}
        axes = sub.subplots(len(rows), len(columns or [1]), sharex="col", gridspec_kw=grid, squeeze=False)
        out.append((sub, axes if columns else axes[:, 0]))
    return fig, out


def format_bp(value: float, _pos: object = None) -> str:
    """Genomic coordinate as a readable tick label: 1,234,567."""
    return f"{int(round(value)):,}"


def save_figure(fig: Figure, paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Write ``fig`` to each path, in the format given by its suffix (.png or .pdf), atomically."""
    written = []
    for path in paths:
        out = Path(path)
        fmt = out.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise InputError(f"{out}: unsupported figure format {fmt!r}; use .png or .pdf")
        with atomic_output(out) as tmp:
            with plt.rc_context(STYLE):
                fig.savefig(tmp, format=fmt, dpi=DPI)
        written.append(out)
    return written
