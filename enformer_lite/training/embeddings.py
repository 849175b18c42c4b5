"""Training on cached trunk embeddings (``train.finetune: head``): the cache's check and its dataset.

The cache, ``embeddings.h5`` next to ``data.h5``, is written by
:func:`enformer_lite.inference.embeddings.write_embeddings` (``enformer-lite embed``), which
describes its layout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
import torch

from enformer_lite.data.h5 import H5Meta
from enformer_lite.errors import InputError
from enformer_lite.training.dataset import WindowDataset


def check_embeddings(path: str | os.PathLike[str], meta: H5Meta, dim: int, source: str) -> None:
    """``path`` must be the cache of ``meta``'s data under the pretrained model ``source`` (InputError names it)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: embeddings cache not found (made by enformer-lite embed)")
    with h5py.File(file, "r") as h5:
        shape, attrs = h5["embeddings"].shape, dict(h5.attrs)
    if shape != (meta.n_windows, meta.target_length, dim):
        raise InputError(f"{file}: embeddings of shape {shape}, but {meta.path} and the trunk need "
                         f"({meta.n_windows}, {meta.target_length}, {dim})")
    if str(attrs.get("data_fingerprint")) != meta.fingerprint or str(attrs.get("source")) != source:
        raise InputError(f"{file}: made from other data or another pretrained model than {meta.path} and {source}; "
                         f"rerun enformer-lite embed")


class EmbeddingDataset(WindowDataset):
    """Rows of ``data.h5`` with ``x`` the cached trunk embedding (target_length, 2C) float32 instead of DNA.

    Keys with a shift or reverse strand are refused: cached embeddings are of the stored window only.
    """

    def __init__(self, meta: H5Meta, indices: npt.NDArray[np.integer] | Sequence[int], organism: str,
                 embeddings: str | os.PathLike[str]) -> None:
        super().__init__(meta, indices, organism)
        self.embeddings_path = str(embeddings)
        self._embeddings: h5py.File | None = None
        self._embeddings_pid: int | None = None
        with h5py.File(self.embeddings_path, "r") as h5:
            cached = h5["cached"][()]
        missing = [int(r) for r in self.indices if not cached[int(r)]]
        if missing:
            raise InputError(f"{self.embeddings_path}: row {missing[0]} of {meta.path} has no cached embedding")

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_embeddings"], state["_embeddings_pid"] = None, None
        return state

    def _cache(self) -> h5py.File:
        if self._embeddings is None or self._embeddings_pid != os.getpid():
            self._embeddings = h5py.File(self.embeddings_path, "r")
            self._embeddings_pid = os.getpid()
        return self._embeddings

    def __getitem__(self, key: Any) -> dict[str, Any]:
        k, shift, reverse = key if isinstance(key, tuple) else (key, 0, False)
        if shift or reverse:
            raise ValueError("cached embeddings take no augmentation (train.augment is switched off in head mode)")
        row = int(self.indices[k])
        handle = self._file()
        mask = (handle["target_mask"][row].astype(np.float32) if self.meta.has_mask
                else np.ones(self.meta.target_length, dtype=np.float32))
        return {
            "x": torch.from_numpy(self._cache()["embeddings"][row].astype(np.float32)),
            "y": torch.from_numpy(handle["targets"][row].astype(np.float32)),
            "mask": torch.from_numpy(mask),
            "organism": self.organism,
            "index": row,
        }

    def close(self) -> None:
        super().close()
        if self._embeddings is not None:
            self._embeddings.close()
            self._embeddings = None
