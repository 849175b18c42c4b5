"""Logo figures of base matrices (logomaker): one panel per region (ISM) or pattern (TF-MoDISco)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd


def logo_figure(
    paths: Sequence[str | os.PathLike[str]],
    panels: Sequence[tuple[pd.DataFrame, str]],
    panel_height: float,
    empty_message: str,
    style: Callable[[Any], None] | None = None,
) -> None:
    """Save one logo panel per ``(matrix, title)`` (matrix: rows × columns A, C, G, T; its index the x axis)
    to every path of ``paths``; ``style(ax)`` finishes each panel. Without panels, a figure saying
    ``empty_message``."""
    import logomaker

    from enformer_lite.plots.style import message_figure, new_figure, save_figure

    if not panels:
        save_figure(message_figure(empty_message), paths)
        return
    fig = new_figure(panel_height * len(panels))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (matrix, title) in zip(axes, panels):
        logomaker.Logo(matrix, ax=ax, color_scheme="classic")
        ax.set_title(title, fontsize=8)
        if style is not None:
            style(ax)
    save_figure(fig, paths)
