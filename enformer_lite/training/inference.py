"""Running a trained model on one-hot batches, with optional test-time averaging.

Averaging over the reverse complement and small shifts (as in Enformer's
evaluation) smooths out strand and position artefacts. Predictions made on a
reverse-complemented input are mapped back to the forward strand (bins reversed,
strand-paired tracks swapped) before averaging.
"""

from __future__ import annotations

from collections.abc import Sequence
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from enformer_lite.errors import InputError
from enformer_lite.training.dataset import H5Meta, read_meta
from enformer_lite.training.module import ModelBuilder, load_model


@dataclass(frozen=True)
class TTAConfig:
    """Test-time averaging: ``shifts`` in bp (0 = none) and whether to add reverse complements."""

    reverse_complement: bool = False
    shifts: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shifts", tuple(int(s) for s in self.shifts) or (0,))

    @property
    def n_passes(self) -> int:
        return len(self.shifts) * (2 if self.reverse_complement else 1)


def reverse_complement_one_hot(x: torch.Tensor) -> torch.Tensor:
    """One-hot (B, L, 4) in A, C, G, T order → its reverse complement (N rows stay zero)."""
    return x.flip(-2).flip(-1)


def shift_one_hot(x: torch.Tensor, shift: int) -> torch.Tensor:
    """One-hot (B, L, 4) moved by ``shift`` bp along L (``out[:, i] = x[:, i - shift]``), N-padded."""
    if shift == 0:
        return x
    out = torch.zeros_like(x)
    if abs(shift) < x.shape[-2]:
        if shift > 0:
            out[:, shift:] = x[:, :-shift]
        else:
            out[:, :shift] = x[:, -shift:]
    return out


@torch.inference_mode()
def predict(
    model: nn.Module,
    x: torch.Tensor,
    head: str,
    strand_pair: Sequence[int] | npt.NDArray[np.integer] | None = None,
    tta: TTAConfig | None = None,
) -> torch.Tensor:
    """Mean prediction over the TTA passes: (B, L, 4) → float32 (B, target_length, T).

    ``strand_pair`` (T,) is required when averaging over reverse complements.
    """
    tta = tta or TTAConfig()
    if tta.reverse_complement and strand_pair is None:
        raise ValueError("reverse-complement averaging needs the tracks' strand_pair")
    pair = torch.as_tensor(np.asarray(strand_pair), device=x.device) if strand_pair is not None else None
    passes = []
    for shift in tta.shifts:
        shifted = shift_one_hot(x, shift)
        passes.append(model(shifted, head=head).float())
        if tta.reverse_complement:
            passes.append(model(reverse_complement_one_hot(shifted), head=head).float().flip(-2)[..., pair])
    return torch.stack(passes).mean(dim=0)


def resolve_device(name: str) -> torch.device:
    """``auto`` → the first CUDA device when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def check_against_checkpoint(meta: H5Meta, head: str, ckpt_meta: dict[str, Any], ckpt: str) -> None:
    """The data file must match the head it is scored with (track count and window geometry)."""
    track_ids = ckpt_meta.get("track_ids") or {}
    if head not in track_ids:
        raise InputError(f"{ckpt}: model has no head {head!r} (heads: {', '.join(sorted(track_ids))}); use --head")
    if len(track_ids[head]) != meta.n_tracks:
        raise InputError(f"{meta.path}: {meta.n_tracks} tracks, but head {head!r} of {ckpt} predicts {len(track_ids[head])}")
    trained = (ckpt_meta.get("data_meta") or {}).get(head, {})
    for key in ("window_length", "bin_size", "target_length"):
        if key in trained and trained[key] != getattr(meta, key):
            raise InputError(f"{meta.path}: {key}={getattr(meta, key)} but the model was trained with {trained[key]}")


def open_trained(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str],
    head: str | None = None,
    device: str = "auto",
    builder: ModelBuilder | None = None,
) -> tuple[nn.Module, H5Meta, str, torch.device]:
    """Load a checkpoint for use on ``data``: ``(model, data meta, head, device)``.

    ``head`` defaults to the genome attribute of ``data``; the data must match that head.
    """
    where = resolve_device(device)
    model, ckpt_meta = load_model(checkpoint, map_location=where, builder=builder)
    meta = read_meta(data)
    head = head or meta.genome
    check_against_checkpoint(meta, head, ckpt_meta, str(checkpoint))
    return model, meta, head, where
