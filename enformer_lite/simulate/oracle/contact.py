"""Step 4a of the oracle: enhancer-promoter contact and the enhancer input of a gene.

``contact(d) = ramp(d) * (1 + d / d0)^-alpha`` for ``0 <= d <= max_distance`` (0 beyond),
with ``ramp(d) = clip((d - contact_min) / contact_ramp, 0, 1)``: nothing closer than
``contact_min`` (the promoter's own neighbourhood acts through P), full weight from
``contact_min + contact_ramp`` on.

The enhancer input of a TSS at t in cell type c is

    I_c(t) = 1 / (2w + 1) * sum_{p != t, |p - t| <= max_distance}
             E_c(p) * contact(|p - t|) * insulation(p, t)

(w = ``half_window``, insulation from :mod:`.insulation`); its distal part sums only
the p with ``|p - t| > distal_distance``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.simulate.oracle.fields import SparseFields
from enformer_lite.simulate.oracle.insulation import blocked_between
from enformer_lite.simulate.oracle.params import OracleConfig


def contact_table(config: OracleConfig) -> npt.NDArray[np.float64]:
    """``contact(d)`` for d = 0 .. max_distance, shape (max_distance + 1,)."""
    d = np.arange(config.max_distance + 1, dtype=np.float64)
    ramp = np.clip((d - config.contact_min) / config.contact_ramp, 0.0, 1.0)
    return ramp * (1.0 + d / config.contact_d0) ** (-config.contact_alpha)


def gene_input(
    sparse: SparseFields, t: int, contact: npt.NDArray[np.float64], config: OracleConfig
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Enhancer input of a TSS at ``t``.

    Args:
        sparse: active positions and insulator sites, at least within
            ``max_distance`` of ``t``.
        t: TSS position.
        contact: (max_distance + 1,) :func:`contact_table`.
        config: the oracle's knobs.

    Returns:
        total: (C,) enhancer input I_c.
        distal: (C,) the part from farther than ``distal_distance``.
    """
    pos, values = sparse.active, sparse.enhancer
    dist = np.abs(pos - t)
    keep = (dist <= config.max_distance) & (dist > 0)
    pos, dist, values = pos[keep], dist[keep], values[:, keep]
    weight = contact[dist]
    keep = weight > 0
    pos, dist, weight, values = pos[keep], dist[keep], weight[keep], values[:, keep]
    blocked = blocked_between(sparse.sites, sparse.insulation, pos, t)
    weight = weight * np.exp(-blocked) / (2 * config.half_window + 1)
    contrib = values.astype(np.float64) * weight
    distal = dist > config.distal_distance
    return contrib.sum(axis=1), contrib[:, distal].sum(axis=1)
