"""Which target bins carry a real measurement: the ``target_mask`` of ``data.h5``.

A bin is masked (0) when more than half of its bases are N (an assembly gap, or past the
chromosome end, where windows are padded with N) or when a blacklist interval touches it.
Masked bins take no part in the training loss, the validation metric or the evaluation: their
targets are zeros that say nothing about the sequence.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.data.blacklist import Blacklist
from enformer_lite.data.sequence import N_CODE

MAX_N_SHARE = 0.5
"""A bin with a larger share of N bases is masked."""


def n_counts_per_bin(codes: npt.NDArray[np.uint8], bin_size: int) -> npt.NDArray[np.int64]:
    """N count of each ``bin_size`` block of codes (L,), L a multiple of ``bin_size``; shape (L // bin_size,)."""
    return np.count_nonzero(codes.reshape(-1, bin_size) == N_CODE, axis=1)


def valid_bins(
    codes: npt.NDArray[np.uint8], chrom: str, bin_size: int, blacklist: Blacklist | None = None
) -> npt.NDArray[np.bool_]:
    """True for each bin of a chromosome's codes (from position 0, N-padded past its end) that counts, shape (n_bins,)."""
    n_counts = n_counts_per_bin(codes, bin_size)
    valid = n_counts <= MAX_N_SHARE * bin_size
    if blacklist is not None:
        valid &= ~blacklist.bins(chrom, 0, len(valid), bin_size)
    return valid
