"""Training examples: ``data.h5`` rows seen with a given shift and strand (augmentation).

The shift and strand of each training example are drawn by the batch sampler
(:class:`~enformer_lite.training.sampler.AlternatingBatchSampler`), not here: the
dataset holds no random state, so DataLoader workers need no seeding and a resumed
run reads exactly what an uninterrupted one would.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
from torch.utils.data import ConcatDataset

from enformer_lite.errors import InputError
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.h5 import H5Meta
from enformer_lite.data.dataset import WindowRows
from enformer_lite.data.tracks import specificity_groups
from enformer_lite.training.augment import reverse_complement_example, shift_codes
from enformer_lite.training.config import SubWindowConfig
from enformer_lite.training.sampler import Key


def target_means(meta: H5Meta, indices: npt.NDArray[np.integer], max_windows: int = 64) -> npt.NDArray[np.float64]:
    """Mean target of each track, shape (T,), over up to ``max_windows`` evenly spaced rows of ``indices``."""
    if not len(indices):
        raise InputError(f"{meta.path}: no windows to average targets over")
    rows = np.unique(np.asarray(indices)[np.linspace(0, len(indices) - 1, min(max_windows, len(indices))).astype(int)])
    total = np.zeros(meta.n_tracks)
    with h5py.File(meta.path, "r") as handle:
        for row in rows:
            total += handle["targets"][int(row)].astype(np.float64).mean(axis=0)
    return total / len(rows)


@dataclass(frozen=True)
class SubWindows:
    """Where the training sub-windows (``train.sub_windows``) lie inside a stored window.

    A sub-window covers ``n_bins`` whole bins of the stored window and is scored on its central
    ``target_length`` bins; sub-window ``offset`` (0 ≤ offset < :attr:`n_offsets`) is scored on
    stored target bins ``offset … offset + target_length - 1``, so every scored bin has a stored
    target and the sub-windows slide over the whole target span.
    """

    window: WindowGeometry
    length: int
    target_length: int
    peak_mode: str = "signal"
    peak_min_sd: float = 0.0

    @classmethod
    def resolve(cls, window: WindowGeometry, cfg: SubWindowConfig, source: str) -> SubWindows:
        """Check ``cfg`` against the stored windows of ``source`` (a data.h5, named in errors)."""
        where = f"config train.sub_windows (training data {source}, windows of {window.window_length} bp)"
        length, bins = cfg.length, cfg.length // window.bin_size
        if length % window.bin_size or length > window.window_length:
            raise InputError(f"{where}: length {length} must be a multiple of the bin size {window.bin_size} and "
                             f"at most the window length")
        target = cfg.target_length
        if not target:  # the full window's share of output bins, rounded to crop equally on both sides
            target = max(1, round(bins * window.target_length / window.n_bins))
            target -= (bins - target) % 2
        if not 1 <= target <= bins or (bins - target) % 2 or target > window.target_length or \
                (bins - target) // 2 > window.crop:
            raise InputError(
                f"{where}: target_length {target} must lie in 1 … {bins}, crop the {bins} bins of a sub-window equally on both "
                f"sides by at most the stored crop of {window.crop} bins, and fit the {window.target_length} stored "
                f"target bins"
            )
        return cls(window, length, target, cfg.peak_mode, cfg.peak_min_sd)

    @property
    def n_bins(self) -> int:
        return self.length // self.window.bin_size

    @property
    def trim(self) -> int:
        """Bins cut from each side of a sub-window before its scored bins."""
        return (self.n_bins - self.target_length) // 2

    @property
    def n_offsets(self) -> int:
        """Number of distinct sub-windows of one stored window."""
        return self.window.target_length - self.target_length + 1

    def peak_offset(
        self, targets: np.ndarray, mask: np.ndarray, track_draw: float, bin_draw: float,
        groups: Sequence[Sequence[int]] = (),
    ) -> int | None:
        """The offset of a sub-window centred on signal (``train.sub_windows.peak_fraction``), or None.

        ``targets`` (stored bins, T), ``mask`` (stored bins,); ``track_draw`` and ``bin_draw`` are
        uniform draws in [0, 1). Offset ``o`` is drawn with probability proportional to a track's
        excess at the sub-window's central bin ``o + target_length // 2``:

        - ``peak_mode`` ``signal``: track ``floor(track_draw * T)``, excess over its window median;
        - ``specific``: the ``floor(track_draw * n)``-th of the ``n`` tracks in ``groups`` (track
          positions, one list per specificity group), excess over its group's mean in the same bin.

        With ``peak_min_sd`` > 0 only bins whose excess is above that many SDs of the excess over the
        unmasked bins count. Masked bins weigh nothing. None when no bin counts (or ``specific`` has no
        groups).
        """
        def signal(columns: list[int]) -> np.ndarray:  # only the columns needed: T can be thousands
            return np.where(mask[:, None] > 0, targets[:, columns], 0.0).astype(np.float64)

        if self.peak_mode == "specific":
            members = [(track, list(group)) for group in groups for track in group]
            if not members:
                return None
            track, group = members[min(int(track_draw * len(members)), len(members) - 1)]
            values = signal(group)
            excess = values[:, group.index(track)] - values.mean(axis=1)
        else:
            values = signal([min(int(track_draw * targets.shape[1]), targets.shape[1] - 1)])[:, 0]
            excess = values - np.median(values)
        floor = 0.0
        if self.peak_min_sd and (mask > 0).any():
            floor = self.peak_min_sd * float(excess[mask > 0].std())
        weight = np.where((excess > floor) & (mask > 0), excess, 0.0)
        centre = self.target_length // 2
        weights = np.cumsum(weight[centre : centre + self.n_offsets])
        if not len(weights) or weights[-1] <= 0:
            return None
        return int(min(np.searchsorted(weights, bin_draw * weights[-1], side="right"), self.n_offsets - 1))

    def cut(
        self, codes: npt.NDArray[np.uint8], targets: np.ndarray, mask: np.ndarray, offset: int
    ) -> tuple[npt.NDArray[np.uint8], np.ndarray, np.ndarray]:
        """Codes (window_length,), targets (stored bins, T) and mask -> the sub-window's codes (length,),
        targets (target_length, T) and mask (target_length,)."""
        if not 0 <= offset < self.n_offsets:
            raise IndexError(f"sub-window offset {offset} outside 0 … {self.n_offsets - 1}")
        start = (self.window.crop - self.trim + offset) * self.window.bin_size
        keep = slice(offset, offset + self.target_length)
        return codes[start : start + self.length], targets[keep], mask[keep]


class WindowDataset(WindowRows):
    """:class:`~enformer_lite.data.dataset.WindowRows` that can also serve augmented views.

    ``dataset[k]`` is row ``k`` as stored; ``dataset[(k, shift, reverse)]`` is row ``k``
    shifted by ``shift`` bp (N-padded, targets unchanged) and, if ``reverse``, reverse
    complemented with the targets transformed to match; ``dataset[(k, shift, reverse, offset)]``
    first cuts sub-window ``offset`` of ``sub_windows`` (:class:`SubWindows`; its items carry
    ``sub_window: True``); ``dataset[(k, shift, reverse, offset, track_draw, bin_draw)]`` cuts the
    sub-window centred on signal that the two draws pick (:meth:`SubWindows.peak_offset`), or sub-window
    ``offset`` where the drawn track has no signal.
    """

    def __init__(
        self, meta: H5Meta, indices: Sequence[int] | npt.NDArray[np.integer], organism: str,
        sub_windows: SubWindows | None = None,
    ) -> None:
        super().__init__(meta, indices, organism)
        self._strand_pair = meta.strand_pair
        self._groups = specificity_groups(meta.tracks)
        self.sub_windows = sub_windows

    def __getitem__(self, key: Key) -> dict[str, Any]:
        k, shift, reverse, *offset = key if isinstance(key, tuple) else (key, 0, False)
        codes, targets, mask = self.read(k)
        if offset:
            if self.sub_windows is None:
                raise ValueError(f"{self.meta.path}: a sub-window key {key} for a dataset without sub-windows")
            where = int(offset[0])
            if len(offset) == 3:
                peak = self.sub_windows.peak_offset(targets, mask, float(offset[1]), float(offset[2]), self._groups)
                where = where if peak is None else peak
            codes, targets, mask = self.sub_windows.cut(codes, targets, mask, where)
        codes = shift_codes(codes, int(shift))
        if reverse:
            codes, targets = reverse_complement_example(codes, targets, self._strand_pair)
            mask = mask[::-1]
        item = self.item(k, codes, targets, mask)
        return {**item, "sub_window": True} if offset else item


class WindowConcat(ConcatDataset):
    """Concatenation of :class:`WindowDataset` s that passes ``(index, shift, reverse)`` keys through."""

    def __getitem__(self, key: Key) -> dict[str, Any]:
        index, view = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside a concatenation of {len(self)} examples")
        part = bisect.bisect_right(self.cumulative_sizes, index)
        local = index - (self.cumulative_sizes[part - 1] if part else 0)
        return self.datasets[part][(local, *view) if view else local]
