"""Training examples: ``data.h5`` rows seen with a given shift and strand (augmentation).

The shift and strand of each training example are drawn by the batch sampler
(:class:`~enformer_lite.training.sampler.AlternatingBatchSampler`), not here: the
dataset holds no random state, so DataLoader workers need no seeding and a resumed
run reads exactly what an uninterrupted one would.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
from torch.utils.data import ConcatDataset

from enformer_lite.errors import InputError
from enformer_lite.data.h5 import H5Meta
from enformer_lite.data.dataset import WindowRows
from enformer_lite.training.augment import reverse_complement_example, shift_codes
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


class WindowDataset(WindowRows):
    """:class:`~enformer_lite.data.dataset.WindowRows` that can also serve augmented views.

    ``dataset[k]`` is row ``k`` as stored; ``dataset[(k, shift, reverse)]`` is row ``k``
    shifted by ``shift`` bp (N-padded, targets unchanged) and, if ``reverse``, reverse
    complemented with the targets transformed to match.
    """

    def __init__(self, meta: H5Meta, indices: Sequence[int] | npt.NDArray[np.integer], organism: str) -> None:
        super().__init__(meta, indices, organism)
        self._strand_pair = meta.strand_pair

    def __getitem__(self, key: Key) -> dict[str, Any]:
        k, shift, reverse = key if isinstance(key, tuple) else (key, 0, False)
        codes, targets, mask = self.read(k)
        codes = shift_codes(codes, int(shift))
        if reverse:
            codes, targets = reverse_complement_example(codes, targets, self._strand_pair)
            mask = mask[::-1]
        return self.item(k, codes, targets, mask)


class WindowConcat(ConcatDataset):
    """Concatenation of :class:`WindowDataset` s that passes ``(index, shift, reverse)`` keys through."""

    def __getitem__(self, key: Key) -> dict[str, Any]:
        index, view = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside a concatenation of {len(self)} examples")
        part = bisect.bisect_right(self.cumulative_sizes, index)
        local = index - (self.cumulative_sizes[part - 1] if part else 0)
        return self.datasets[part][(local, *view) if view else local]
