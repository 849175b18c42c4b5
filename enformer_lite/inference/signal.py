"""Predictions back on the bigWigs' scale, and the signal at a TSS.

The model predicts each track on its *training* scale (the tracks table's transform of the
pooled bigWig: soft clip, clip, scale). :func:`untransform` inverts it (divide by ``scale``,
undo the soft clip ``x > c → c + (x − c)²``; a hard ``clip`` cannot be undone) and states
the unit of the result explicitly:

=============  ==================================================================================
``native``     as pooled: the bin's sum of per-base values for ``sum_stat: sum`` tracks, the bin's
               per-base mean for ``mean`` tracks (what the variant scores use)
``per_base``   per-base value, comparable with the input bigWig at every base (bigWig outputs,
               track figures): ``sum`` tracks divided by ``bin_size``
``bin_total``  the bin's sum of per-base values for every track (TSS tables):
               ``mean`` tracks multiplied by ``bin_size``
=============  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from enformer_lite.data.tracks import TrackSpec

Unit = Literal["native", "per_base", "bin_total"]
UNITS: tuple[Unit, ...] = ("native", "per_base", "bin_total")


class Untransform:
    """Training scale → original scale in ``unit`` along the last axis (T tracks), vectorised.

    Tracks sharing one transform (scale, soft clip, sum_stat) are handled together, so the
    cost does not grow with the number of tracks.
    """

    def __init__(self, tracks: Sequence[TrackSpec], unit: Unit, bin_size: int) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        groups: dict[tuple[float, float | None, str], list[int]] = {}
        for i, track in enumerate(tracks):
            groups.setdefault((track.scale, track.clip_soft, track.sum_stat), []).append(i)
        self._groups = [(tracks[idx[0]], np.asarray(idx)) for idx in groups.values()]
        self.unit = unit
        self.bin_size = bin_size

    def __call__(self, values: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """(..., T) on the training scale → (..., T) float32 in :attr:`unit`."""
        out = np.empty(values.shape, dtype=np.float32)
        for track, index in self._groups:
            x = track.untransform(values[..., index])
            if self.unit == "per_base" and track.sum_stat == "sum":
                x = x / self.bin_size
            elif self.unit == "bin_total" and track.sum_stat == "mean":
                x = x * self.bin_size
            out[..., index] = x
        return out


def untransform(
    values: npt.NDArray[np.floating], tracks: Sequence[TrackSpec], unit: Unit, bin_size: int
) -> npt.NDArray[np.float32]:
    """(..., T) training-scale values of ``tracks`` → original scale in ``unit`` (see the module docstring)."""
    return Untransform(tracks, unit, bin_size)(values)


def tss_sum(values: npt.NDArray[np.floating], bins: npt.NDArray[np.integer], flank: int) -> npt.NDArray[np.float64]:
    """Sums of ``values`` (n_bins, K) over bins ``b − flank .. b + flank`` for each ``b`` in ``bins`` (G,).

    The range is clipped to the ``n_bins`` given. Returns float64 (G, K).
    """
    values = np.asarray(values)
    offsets = np.arange(-flank, flank + 1)
    index = np.asarray(bins, dtype=np.int64)[:, None] + offsets[None, :]  # (G, 2 * flank + 1)
    inside = (index >= 0) & (index < len(values))
    picked = values[np.clip(index, 0, max(len(values) - 1, 0))].astype(np.float64)
    return np.where(inside[..., None], picked, 0.0).sum(axis=1)
