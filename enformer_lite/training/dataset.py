"""Training examples: ``data.h5`` rows with random shift and reverse-complement augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
import torch

from enformer_lite.errors import InputError
from enformer_lite.data.h5 import H5Meta
from enformer_lite.data.dataset import WindowRows
from enformer_lite.training.augment import reverse_complement_example, shift_codes
from enformer_lite.training.config import AugmentConfig


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
    """:class:`~enformer_lite.data.dataset.WindowRows` with augmentation.

    With ``augment`` set, each read draws a random shift in [-max_shift, max_shift]
    and, if enabled, a fair coin for reverse complement (torch RNG, which the
    DataLoader seeds per worker).
    """

    def __init__(
        self,
        meta: H5Meta,
        indices: Sequence[int] | npt.NDArray[np.integer],
        organism: str,
        augment: AugmentConfig | None = None,
    ) -> None:
        super().__init__(meta, indices, organism)
        self.augment = augment
        self._strand_pair = meta.strand_pair

    def __getitem__(self, k: int) -> dict[str, Any]:
        codes, targets, mask = self.read(k)
        if self.augment is not None:
            if self.augment.max_shift:
                shift = int(torch.randint(-self.augment.max_shift, self.augment.max_shift + 1, ()).item())
                codes = shift_codes(codes, shift)
            if self.augment.reverse_complement and bool(torch.randint(0, 2, ()).item()):
                codes, targets = reverse_complement_example(codes, targets, self._strand_pair)
                mask = mask[::-1]
        return self.item(k, codes, targets, mask)
