"""The ``data.h5`` contract: its writer and its reader, in one place.

One row per window:

``sequence``  uint8 (N, window_length): base codes A=0 C=1 G=2 T=3 N=4, one chunk per row (lzf)
``targets``   float16 (N, target_length, T): transformed pooled signal of the central bins, one chunk per
              row and :data:`TRACK_CHUNK` tracks (so one per row up to that many tracks; uncompressed)
``target_mask`` uint8 (N, target_length): 1 where the bin counts, 0 where it is masked (mostly N,
              past the chromosome end, or blacklisted; see :mod:`enformer_lite.data.target_mask`).
              Files written before it existed have none: every bin counts.
``windows``   compound (N,): chrom, start, end, split
attrs         genome, window_length, bin_size, target_length, tracks (JSON of the tracks
              table), fingerprint (of the inputs; empty in per-chromosome parts)
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

from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.tracks import TrackSpec, tracks_from_records, tracks_to_json
from enformer_lite.data.windows import SPLITS, Window
from enformer_lite.errors import InputError

TRACK_CHUNK = 128
"""Most tracks in one ``targets`` chunk: extraction writes tracks in groups of this many, so its memory
does not grow with the track count, and a chunk (229 KB at 896 bins) is written once."""
WINDOW_DTYPE = np.dtype([("chrom", "S64"), ("start", "<i8"), ("end", "<i8"), ("split", "S5")])


def create_datasets(h5: h5py.File, n: int, geometry: WindowGeometry, n_tracks: int) -> None:
    """Empty ``sequence``, ``targets`` and ``target_mask`` datasets for ``n`` windows, one chunk per row.

    ``targets`` chunks hold at most :data:`TRACK_CHUNK` tracks: (1, target_length, min(T, TRACK_CHUNK)).
    """
    per_row = (
        ("sequence", (geometry.window_length,), "u1", "lzf", None),
        ("targets", (geometry.target_length, n_tracks), "f2", None, min(n_tracks, TRACK_CHUNK)),
        ("target_mask", (geometry.target_length,), "u1", "lzf", None),
    )
    for name, row_shape, dtype, compression, last in per_row:
        chunk = (1, *row_shape) if last is None else (1, *row_shape[:-1], last)
        h5.create_dataset(name, shape=(n, *row_shape), maxshape=(None, *row_shape), dtype=dtype,
                          chunks=chunk, compression=compression, track_times=False)


def write_attrs(h5: h5py.File, genome: str, geometry: WindowGeometry, tracks: Sequence[TrackSpec], fingerprint: str) -> None:
    """The file attributes of the contract."""
    h5.attrs["genome"] = genome
    h5.attrs["window_length"] = geometry.window_length
    h5.attrs["bin_size"] = geometry.bin_size
    h5.attrs["target_length"] = geometry.target_length
    h5.attrs["tracks"] = tracks_to_json(list(tracks))
    h5.attrs["fingerprint"] = fingerprint


def window_records(rows: Sequence[Window]) -> np.ndarray:
    """The ``windows`` dataset rows, shape (N,) of :data:`WINDOW_DTYPE`."""
    return np.array([(w.chrom.encode(), w.start, w.end, w.split.encode()) for w in rows], dtype=WINDOW_DTYPE)


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
    has_mask: bool = False

    @property
    def n_tracks(self) -> int:
        return len(self.tracks)

    @property
    def geometry(self) -> WindowGeometry:
        return WindowGeometry(self.window_length, self.bin_size, self.target_length)

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
            tracks = tuple(tracks_from_records(raw_tracks))
            meta = H5Meta(
                path=str(file),
                genome=str(attrs["genome"]),
                window_length=int(attrs["window_length"]),
                bin_size=int(attrs["bin_size"]),
                target_length=int(attrs["target_length"]),
                tracks=tracks,
                fingerprint=str(attrs.get("fingerprint", "")),
                n_windows=int(handle["sequence"].shape[0]),
                has_mask="target_mask" in handle,
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
        if meta.has_mask and handle["target_mask"].shape != (meta.n_windows, meta.target_length):
            raise InputError(
                f"{file}: target_mask has shape {handle['target_mask'].shape}, expected ({meta.n_windows}, {meta.target_length})"
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
