"""Running a trained model on one-hot batches, with optional test-time averaging.

Averaging over the reverse complement and small shifts (as in Enformer's
evaluation) smooths out strand and position artefacts. Predictions made on a
reverse-complemented input are mapped back to the forward strand (bins reversed,
strand-paired tracks swapped) before averaging.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn


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
