"""Where a variant sits in the model's input window, and the reference/alternative sequences.

Window layout: a variant whose first REF base is at 0-based ``s`` is scored in the window of
``window_length`` bp centred on the grid point nearest to ``s``:
``centre = floor((s + grid // 2) / grid) * grid``, ``window_start = centre - window_length // 2``.
With ``grid = 1`` the variant sits exactly at index ``window_length // 2`` (the Enformer
convention); a coarser grid lets every variant within one grid cell share one reference
window. Sequence beyond a chromosome end is N.

Alternative sequences are built the way kipoiseq's ``VariantSeqExtractor.extract(interval,
[variant], anchor=variant.start, fixed_len=True)`` builds them: bases left of the variant are
the reference, then the ALT, then the reference after REF, cut to ``window_length`` (an
insertion pushes bases out at the right end; a deletion pulls more reference in from the right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyfaidx

from enformer_lite.data.fasta import fetch_codes
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.sequence import encode


@dataclass(frozen=True)
class WindowLayout:
    """Where variants go in the model's input: the model's window geometry plus the centring grid (bp).

    All crop/span arithmetic is :class:`~enformer_lite.data.geometry.WindowGeometry`'s; this adds
    only the grid and its bounds.
    """

    geometry: WindowGeometry
    grid: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.grid <= self.geometry.window_length // 4:
            raise ValueError(f"grid {self.grid} must lie in 1..window_length/4 = {self.geometry.window_length // 4}")

    def window_start(self, start: int) -> int:
        """Start of the window of a variant whose first REF base is at 0-based ``start`` (see the module docstring)."""
        return self.geometry.window_around(start, self.grid)


def apply_allele(
    reference: npt.NDArray[np.uint8], offset: int, ref_length: int, alt: npt.NDArray[np.uint8], length: int
) -> npt.NDArray[np.uint8]:
    """Alternative window codes (length,) from reference codes starting at the window start.

    ``reference`` must reach ``length + max(0, ref_length - len(alt))`` bases so that a
    deletion can be filled from the right; ``offset`` is the variant's index in the window.
    """
    if not 0 <= offset < length:
        raise ValueError(f"variant offset {offset} lies outside the window of {length} bp")
    needed = length + max(0, ref_length - len(alt))
    if reference.shape[0] < needed:
        raise ValueError(f"reference has {reference.shape[0]} bases, {needed} needed")
    kept = min(len(alt), length - offset)
    rest = length - offset - kept
    tail_start = offset + ref_length
    return np.concatenate([reference[:offset], alt[:kept], reference[tail_start : tail_start + rest]])


def window_sequences(
    fasta: pyfaidx.Fasta, chrom: str, window_start: int, edits: Sequence[tuple[int, str, str]], layout: WindowLayout
) -> tuple[npt.NDArray[np.uint8], list[npt.NDArray[np.uint8]]]:
    """Reference codes (L,) of one window and alternative codes (L,) for each edit in it (uint8, L = window_length).

    ``edits`` are ``(start, ref, alt)`` with 0-based ``start`` inside the window; each
    alternative carries only its own edit.
    """
    extra = max([0, *(len(ref) - len(alt) for _, ref, alt in edits)])
    length = layout.geometry.window_length
    reference = fetch_codes(fasta, chrom, window_start, window_start + length + extra)
    alternatives = [apply_allele(reference, start - window_start, len(ref), encode(alt), length) for start, ref, alt in edits]
    return reference[:length], alternatives
