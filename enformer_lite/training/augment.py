"""Sequence augmentations that keep a training example's targets consistent.

Reverse complement: the sequence is read from the other strand, so target bins
run backwards and each stranded track takes the values of its opposite-strand
partner (``strand_pair`` of the tracks table). Shifts move the sequence by a few
bp relative to the (128 bp) target bins; the exposed end is filled with N.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import N_CODE, reverse_complement


def shift_codes(codes: npt.NDArray[np.uint8], shift: int) -> npt.NDArray[np.uint8]:
    """Move codes (L,) by ``shift`` bp: ``out[i] = codes[i - shift]``, N where that falls outside.

    A positive shift moves the sequence towards higher coordinates (N-padding at the
    start), a negative one towards lower coordinates (N-padding at the end).
    """
    if shift == 0:
        return codes
    out = np.full_like(codes, N_CODE)
    if abs(shift) >= codes.shape[-1]:
        return out
    if shift > 0:
        out[..., shift:] = codes[..., :-shift]
    else:
        out[..., :shift] = codes[..., -shift:]
    return out


def reverse_complement_targets(targets: np.ndarray, strand_pair: npt.NDArray[np.intp]) -> np.ndarray:
    """Targets (..., bins, T) seen from the other strand: bins reversed, strand pairs swapped."""
    return targets[..., ::-1, :][..., strand_pair]


def reverse_complement_example(
    codes: npt.NDArray[np.uint8], targets: np.ndarray, strand_pair: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.uint8], np.ndarray]:
    """Reverse-complement codes (L,) and transform targets (bins, T) to match."""
    return reverse_complement(codes), reverse_complement_targets(targets, strand_pair)
