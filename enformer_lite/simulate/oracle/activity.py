"""Steps 2 and 3 of the oracle: element activity, accessibility and smoothed ChIP occupancy.

For the central positions p of a scanned stretch (w = ``half_window``):

- smoothed occupancy ``S_k(p) = sum_{|q - p| <= w} O[k, q]`` (positions beyond the
  scanned codes contribute 0, as N does);
- drive ``x_c(p) = sum_k A'[c, k] * S_k(p)``, with ``A'`` the (C, K) TF activity matrix
  whose insulator column is set to 0;
- element activity ``E_c(p) = h(x_c(p))`` and accessibility
  ``D_c(p) = h(x_c(p) + insulator_accessibility * S_ins(p))``, with the thresholded
  Hill function ``h(x) = u^n / (K^n + u^n)``, ``u = max(x - x0, 0)``
  (x0 = ``hill_offset``, K = ``hill_k``, n = ``hill_n``), so h(x) = 0 for x <= x0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.simulate.oracle.fields import Fields
from enformer_lite.simulate.oracle.insulation import site_insulation
from enformer_lite.simulate.oracle.params import OracleConfig


def hill(x: np.ndarray, offset: float, k: float, n: float) -> np.ndarray:
    """Thresholded Hill function u^n / (k^n + u^n), u = max(x - offset, 0), of any shape."""
    out = np.zeros_like(x)
    above = x > offset  # usually a small fraction of positions
    u = x[above] - offset
    un = u * u if n == 2.0 else u**n
    out[above] = un / (k**n + un)
    return out


def box_sum(values: np.ndarray, pad: int, w: int, n: int) -> npt.NDArray[np.float64]:
    """Sums over [p - w, p + w] of ``values`` (..., n + 2 pad) for its n central
    positions p (those from ``pad`` on; needs ``pad >= w``). Returns (..., n)."""
    csum = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)], axis=-1)
    return csum[..., pad + w + 1 : pad + w + 1 + n] - csum[..., pad - w : pad - w + n]


def activity_fields(
    occ: npt.NDArray[np.float64],
    not_n: npt.NDArray[np.bool_],
    pad: int,
    enhancer_weights: npt.NDArray[np.float64],
    chip_targets: list[int],
    insulator: int,
    config: OracleConfig,
) -> Fields:
    """Fields of the n central bases of a scanned stretch.

    Args:
        occ: (K, n + 2 pad) motif occupancy of the stretch with ``pad`` bases each side.
        not_n: (n,) False where a central base is N.
        pad: bases of context on each side (at least ``half_window``).
        enhancer_weights: (C, K) ``A'``, the TF activity with the insulator column 0.
        chip_targets: J motif indices whose smoothed occupancy is kept (includes the insulator).
        insulator: motif index of the insulator TF.
        config: the oracle's knobs.
    """
    n = occ.shape[1] - 2 * pad
    w = config.half_window
    drive = box_sum(enhancer_weights @ occ, pad, w, n)  # (C, n)
    smoothed_chip = box_sum(occ[chip_targets], pad, w, n)  # (J, n)
    s_ins = smoothed_chip[chip_targets.index(insulator)]
    enhancer = hill(drive, config.hill_offset, config.hill_k, config.hill_n)
    access = hill(drive + config.insulator_accessibility * s_ins, config.hill_offset, config.hill_k, config.hill_n)
    return Fields(
        enhancer.astype(np.float32),
        access.astype(np.float32),
        smoothed_chip.astype(np.float32),
        site_insulation(occ[insulator, pad : pad + n], config.block),
        not_n,
    )
