"""Insulation by insulator (CTCF-like) sites between an enhancer and a promoter.

A site at q passes ``1 - block * O_ins[q]`` of the contact across it, so the contact
between p and a TSS t is scaled by ``insulation(p, t) = prod_{q strictly between p and t}
(1 - block * O_ins[q])``. Per base the oracle keeps ``-log(1 - block * O_ins[q])``
(0 where no insulator is bound), and the product is ``exp(-sum)`` of those.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def site_insulation(insulator_occupancy: npt.NDArray[np.float64], block: float) -> npt.NDArray[np.float64]:
    """Per-base insulation ``-log(1 - block * O_ins)``, (n,) from (n,) occupancy."""
    return -np.log1p(-block * insulator_occupancy)


def blocked_between(
    sites: npt.NDArray[np.int64],
    insulation: npt.NDArray[np.float64],
    pos: npt.NDArray[np.int64],
    t: int,
) -> npt.NDArray[np.float64]:
    """Summed insulation strictly between each of ``pos`` (m,) and ``t``, shape (m,).

    Args:
        sites: (k,) sorted insulator positions covering at least the span of ``pos`` and ``t``.
        insulation: (k,) per-site insulation (:func:`site_insulation`).
        pos: (m,) positions other than ``t``.
        t: the TSS.
    """
    cum = np.concatenate([[0.0], np.cumsum(insulation)])

    def upto(x: np.ndarray | int) -> np.ndarray:
        return cum[np.searchsorted(sites, x, side="right")]

    left = pos < t
    return np.where(left, upto(t - 1) - upto(pos), upto(pos - 1) - upto(t))
