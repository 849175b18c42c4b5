"""Lazy, fork-safe reading of ``data.h5`` rows as model inputs and targets.

Nothing is loaded up front; every example is read on demand. Each process (the main one
or a DataLoader worker) opens its own h5py handle the first time it reads, because an
HDF5 handle must not be shared across a fork.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from enformer_lite.data.h5 import H5Meta
from enformer_lite.data.sequence import one_hot


class WindowRows(Dataset):
    """Rows ``indices`` of one organism's ``data.h5``.

    Item ``k`` is a dict with ``x`` float32 one-hot (L, 4), ``y`` float32
    (target_length, T), ``mask`` float32 (target_length,) (1 where the bin counts; all 1
    for files without ``target_mask``), ``organism`` (str) and ``index`` (row in the file).
    """

    def __init__(self, meta: H5Meta, indices: Sequence[int] | npt.NDArray[np.integer], organism: str) -> None:
        self.meta = meta
        self.indices = np.asarray(indices, dtype=np.int64)
        self.organism = organism
        self._handle: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle"], state["_pid"] = None, None
        return state

    def _file(self) -> h5py.File:
        if self._handle is None or self._pid != os.getpid():
            self._handle = h5py.File(self.meta.path, "r")
            self._pid = os.getpid()
        return self._handle

    def read(self, k: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Raw codes (L,) uint8, targets (target_length, T) float32 and mask (target_length,) float32 of item ``k``."""
        row = int(self.indices[k])
        handle = self._file()
        if self.meta.has_mask:
            mask = handle["target_mask"][row].astype(np.float32)
        else:
            mask = np.ones(self.meta.target_length, dtype=np.float32)
        return handle["sequence"][row], handle["targets"][row].astype(np.float32), mask

    def item(
        self, k: int, codes: npt.NDArray[np.uint8], targets: npt.NDArray[np.float32], mask: npt.NDArray[np.float32]
    ) -> dict[str, Any]:
        """The item dict of row ``k`` from its (possibly augmented) codes, targets and mask."""
        return {
            "x": torch.from_numpy(one_hot(codes)),
            "y": torch.from_numpy(np.ascontiguousarray(targets)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask)),
            "organism": self.organism,
            "index": int(self.indices[k]),
        }

    def __getitem__(self, k: int) -> dict[str, Any]:
        return self.item(k, *self.read(k))

    def close(self) -> None:
        """Close this process's file handle, if open."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def collate_organism_batch(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack items of one organism into a batch; mixing organisms is a programming error."""
    organisms = {item["organism"] for item in items}
    if len(organisms) != 1:
        raise ValueError(f"a batch must hold one organism, got {sorted(organisms)}")
    batch = {
        "x": torch.stack([item["x"] for item in items]),
        "y": torch.stack([item["y"] for item in items]),
        "mask": torch.stack([item["mask"] for item in items]),
        "organism": items[0]["organism"],
        "index": torch.tensor([item["index"] for item in items], dtype=torch.int64),
    }
    if items[0].get("sub_window"):  # training sub-windows: the model crops to the targets' bins
        batch["sub_window"] = True
    return batch
