"""Open a trained model for one head: the model, its window geometry and its tracks table.

Every stage that runs a model (evaluate, predict, variants, contributions, plots) opens it
here, from either

- a training checkpoint (``best.ckpt``/``last.ckpt``): geometry and tracks come with it, or
- a model file written by ``enformer-lite import-weights``: then a ``data.h5`` must supply
  geometry and tracks.

When a ``data.h5`` is given with a checkpoint it must match the head (track count, geometry). A
*published* head (a pretrained model's, see :mod:`enformer_lite.inference.published`) keeps its own
tracks table: the data must then match only its geometry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.h5 import H5Meta, read_meta
from enformer_lite.data.tracks import TrackSpec, tracks_from_records
from enformer_lite.errors import InputError
from enformer_lite.inference.checkpoint import ModelBuilder, load_checkpoint
from enformer_lite.inference.tta import resolve_device


@dataclass(frozen=True)
class TrainedModel:
    """One head of a trained model, ready to predict ``(B, L, 4) → (B, target_length, T)``.

    Attributes:
        model: the network in eval mode on ``device``, called as ``model(x, head=head)``.
        head: the organism head used.
        geometry: the window geometry the head was trained with.
        tracks: the head's tracks table, in output order (T entries).
        device: where the model lives.
        source: the checkpoint or model file it came from.
        meta: the checkpoint's metadata (see :func:`load_checkpoint`; empty for a model file).
        data: the ``data.h5`` description, when one was given.
    """

    model: nn.Module
    head: str
    geometry: WindowGeometry
    tracks: tuple[TrackSpec, ...]
    device: torch.device
    source: str
    meta: dict[str, Any] = field(default_factory=dict)
    data: H5Meta | None = None

    @property
    def strand_pair(self) -> npt.NDArray[np.intp]:
        """(T,) index of each track's opposite-strand partner."""
        return np.array([t.strand_pair for t in self.tracks], dtype=np.intp)


def check_against_checkpoint(meta: H5Meta, head: str, ckpt_meta: dict[str, Any], ckpt: str) -> None:
    """The data file must match the head it is scored with (track count and window geometry)."""
    track_ids = ckpt_meta.get("track_ids") or {}
    if head not in track_ids:
        raise InputError(f"{ckpt}: model has no head {head!r} (heads: {', '.join(sorted(track_ids))}); use --head")
    trained = (ckpt_meta.get("data_meta") or {}).get(head, {})
    if not trained.get("published") and len(track_ids[head]) != meta.n_tracks:
        raise InputError(f"{meta.path}: {meta.n_tracks} tracks, but head {head!r} of {ckpt} predicts {len(track_ids[head])}")
    for key in ("window_length", "bin_size", "target_length"):
        if key in trained and trained[key] != getattr(meta, key):
            raise InputError(f"{meta.path}: {key}={getattr(meta, key)} but the model was trained with {trained[key]}")


def _choose_head(head: str | None, heads: list[str], source: str, data: H5Meta | None) -> str:
    if head is None:
        if data is not None:
            head = data.genome
        elif len(heads) == 1:
            head = heads[0]
        else:
            raise InputError(f"{source}: model has heads {', '.join(heads)}; choose one with --head")
    if heads and head not in heads:
        raise InputError(f"{source}: model has no head {head!r} (heads: {', '.join(sorted(heads))}); use --head")
    return head


def open_model(
    path: str | os.PathLike[str],
    head: str | None = None,
    device: str | torch.device = "auto",
    data: str | os.PathLike[str] | None = None,
    builder: ModelBuilder | None = None,
) -> TrainedModel:
    """Open a checkpoint or model file for ``head``.

    ``head`` defaults to the genome of ``data``, else to the model's only head. Raises
    InputError naming the file when the head is unknown, the data does not match it, or a
    model file comes without ``data``.
    """
    from enformer_lite.model.checkpoint import load_model as load_model_file

    where = device if isinstance(device, torch.device) else resolve_device(device)
    source = str(path)
    h5 = read_meta(data) if data is not None else None
    meta: dict[str, Any] = {}
    try:
        model, meta = load_checkpoint(path, map_location=where, builder=builder)
    except InputError:
        if h5 is None:
            raise
        model = load_model_file(path, map_location=where)
    if meta:
        head = _choose_head(head, sorted(meta.get("track_ids") or {}), source, h5)
    else:
        head = _choose_head(head, sorted(getattr(model, "heads", None) or {}), source, h5)
    summary = (meta.get("data_meta") or {}).get(head)
    if h5 is not None:
        if meta.get("track_ids"):
            check_against_checkpoint(h5, head, meta, source)
        if not (summary or {}).get("published"):
            return TrainedModel(model, head, h5.geometry, h5.tracks, where, source, meta, h5)
    if not summary:
        raise InputError(f"{source}: no data summary for head {head!r}; give the data file (--data)")
    tracks = tuple(tracks_from_records(summary["tracks"]))
    n_ids = len((meta.get("track_ids") or {}).get(head, tracks))
    if len(tracks) != n_ids:
        raise InputError(f"{source}: head {head!r} predicts {n_ids} tracks but its table lists {len(tracks)}")
    return TrainedModel(model, head, WindowGeometry.from_mapping(summary), tracks, where, source, meta, h5)
