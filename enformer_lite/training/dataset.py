"""Lazy access to one organism's ``data.h5`` (see the HDF5 contract in the project docs).

Nothing is loaded up front except the small ``windows`` table; every example is
read on demand. Each process (the main one or a DataLoader worker) opens its
own h5py handle the first time it reads, because an HDF5 handle must not be
shared across a fork.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import Dataset

from enformer_lite.errors import InputError
from enformer_lite.sequence import one_hot
from enformer_lite.tracks import TrackSpec
from enformer_lite.training.augment import reverse_complement_example, shift_codes
from enformer_lite.training.config import AugmentConfig

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class H5Meta:
    """What a ``data.h5`` holds, without its arrays."""

    path: str
    genome: str
    window_length: int
    bin_size: int
    target_length: int
    tracks: tuple[TrackSpec, ...]
    fingerprint: str
    n_windows: int

    @property
    def n_tracks(self) -> int:
        return len(self.tracks)

    @property
    def strand_pair(self) -> npt.NDArray[np.intp]:
        """Track permutation that maps each track to its opposite-strand partner, shape (T,)."""
        return np.array([t.strand_pair for t in self.tracks], dtype=np.intp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary stored in checkpoints (tracks as plain dicts)."""
        return {
            "genome": self.genome,
            "window_length": self.window_length,
            "bin_size": self.bin_size,
            "target_length": self.target_length,
            "tracks": [asdict(t) for t in self.tracks],
            "fingerprint": self.fingerprint,
        }


def read_meta(path: str | os.PathLike[str]) -> H5Meta:
    """Read and check the attributes and shapes of ``data.h5``; InputError names the file."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: data file not found")
    try:
        handle = h5py.File(file, "r")
    except OSError as err:
        raise InputError(f"{file}: not a readable HDF5 file: {err}") from err
    with handle:
        for name in ("sequence", "targets", "windows"):
            if name not in handle:
                raise InputError(f"{file}: dataset {name!r} missing")
        attrs = handle.attrs
        try:
            raw_tracks = json.loads(attrs["tracks"])
            tracks = tuple(TrackSpec(**{k: v for k, v in row.items() if k in TrackSpec.__dataclass_fields__}) for row in raw_tracks)
            meta = H5Meta(
                path=str(file),
                genome=str(attrs["genome"]),
                window_length=int(attrs["window_length"]),
                bin_size=int(attrs["bin_size"]),
                target_length=int(attrs["target_length"]),
                tracks=tracks,
                fingerprint=str(attrs.get("fingerprint", "")),
                n_windows=int(handle["sequence"].shape[0]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{file}: bad or missing attribute: {err}") from err
        seq_shape, tgt_shape = handle["sequence"].shape, handle["targets"].shape
        if seq_shape != (meta.n_windows, meta.window_length):
            raise InputError(f"{file}: sequence has shape {seq_shape}, expected ({meta.n_windows}, {meta.window_length})")
        if tgt_shape != (meta.n_windows, meta.target_length, meta.n_tracks):
            raise InputError(
                f"{file}: targets has shape {tgt_shape}, expected ({meta.n_windows}, {meta.target_length}, {meta.n_tracks})"
            )
        if handle["windows"].shape[0] != meta.n_windows:
            raise InputError(f"{file}: windows has {handle['windows'].shape[0]} rows, sequence has {meta.n_windows}")
    pairs = meta.strand_pair
    if np.any(pairs < 0) or np.any(pairs >= meta.n_tracks) or np.any(pairs[pairs] != np.arange(meta.n_tracks)):
        raise InputError(f"{file}: tracks attribute has strand_pair values that are not a pairing: {pairs.tolist()}")
    return meta


def read_windows(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The ``windows`` table as arrays: chrom (str), start, end (int64), split (str), each shape (N,)."""
    with h5py.File(path, "r") as handle:
        table = handle["windows"][()]
    decode = np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else str(b), otypes=[object])
    out = {
        "chrom": decode(table["chrom"]).astype(str),
        "start": table["start"].astype(np.int64),
        "end": table["end"].astype(np.int64),
        "split": decode(table["split"]).astype(str),
    }
    bad = sorted(set(out["split"]) - set(SPLITS))
    if bad:
        raise InputError(f"{path}: windows.split has unknown value(s) {', '.join(bad)}; expected {', '.join(SPLITS)}")
    return out


def split_indices(path: str | os.PathLike[str], split: str) -> npt.NDArray[np.int64]:
    """Row numbers of the windows in ``split`` (train/valid/test), ascending, shape (n,)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    return np.flatnonzero(read_windows(path)["split"] == split).astype(np.int64)


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


class WindowDataset(Dataset):
    """Rows ``indices`` of one organism's ``data.h5`` as training examples.

    Item ``k`` is a dict with ``x`` float32 one-hot (L, 4), ``y`` float32
    (target_length, T), ``organism`` (str) and ``index`` (row in the file).
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
        self.meta = meta
        self.indices = np.asarray(indices, dtype=np.int64)
        self.organism = organism
        self.augment = augment
        self._strand_pair = meta.strand_pair
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

    def read(self, k: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """Raw codes (L,) uint8 and targets (target_length, T) float32 of item ``k``, unaugmented."""
        row = int(self.indices[k])
        handle = self._file()
        return handle["sequence"][row], handle["targets"][row].astype(np.float32)

    def __getitem__(self, k: int) -> dict[str, Any]:
        codes, targets = self.read(k)
        if self.augment is not None:
            if self.augment.max_shift:
                shift = int(torch.randint(-self.augment.max_shift, self.augment.max_shift + 1, ()).item())
                codes = shift_codes(codes, shift)
            if self.augment.reverse_complement and bool(torch.randint(0, 2, ()).item()):
                codes, targets = reverse_complement_example(codes, targets, self._strand_pair)
        return {
            "x": torch.from_numpy(one_hot(codes)),
            "y": torch.from_numpy(np.ascontiguousarray(targets)),
            "organism": self.organism,
            "index": int(self.indices[k]),
        }

    def close(self) -> None:
        """Close this process's file handle, if open."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
