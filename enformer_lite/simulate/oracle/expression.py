"""Step 4b of the oracle: expected CAGE counts of a gene and their peak at its TSS.

A gene with its TSS at t has promoter activity ``P_c = E_c(t)`` and enhancer input
``I_c`` (:mod:`.contact`); its expected CAGE count in cell type c is

    cage_c = cage_scale * P_c * (basal + I_c),

spread over the bases ``t + i``, ``|i| <= hw`` (hw = ``tss_half_width``) with the
triangular weights ``kernel(i) = (hw + 1 - |i|) / (hw + 1)^2``, which sum to 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.simulate.oracle.params import OracleConfig


def expected_cage(promoter: np.ndarray, enhancer_input: np.ndarray, config: OracleConfig) -> np.ndarray:
    """Expected CAGE counts at the TSS (..., C) from P (..., C) and I (..., C)."""
    return config.cage_scale * promoter * (config.basal + enhancer_input)


def tss_kernel(half_width: int) -> npt.NDArray[np.float64]:
    """Triangular CAGE peak weights (2 half_width + 1,) over tss - half_width .. tss + half_width."""
    tri = (half_width + 1 - np.abs(np.arange(-half_width, half_width + 1))).astype(np.float64)
    return tri / tri.sum()


def add_cage_peaks(
    column: npt.NDArray[np.float64],
    start: int,
    tss: npt.NDArray[np.int64],
    counts: npt.NDArray[np.float64],
    kernel: npt.NDArray[np.float64],
) -> None:
    """Add each gene's CAGE peak to ``column`` (n,), the per-base signal of [start, start + n).

    Args:
        column: (n,) per-base values, updated in place; peak bases outside it are dropped.
        start: sequence position of ``column[0]``.
        tss: (G,) TSS positions of the genes to add.
        counts: (G,) their expected CAGE counts.
        kernel: (2 hw + 1,) :func:`tss_kernel`.
    """
    n = column.shape[0]
    hw = (kernel.shape[0] - 1) // 2
    for t, count in zip(tss.tolist(), counts):
        lo = int(t) - hw - start
        a, b = max(lo, 0), min(lo + 2 * hw + 1, n)
        if b > a:
            column[a:b] += count * kernel[a - lo : b - lo]
