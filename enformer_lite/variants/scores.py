"""Variant-effect scores from reference and alternative predictions on the tracks' original scale.

Predictions are first mapped back to the scale of the input bigWigs with
:class:`~enformer_lite.inference.signal.Untransform` in unit ``native`` (divide by ``scale``,
undo the soft clip): bin sums for ``sum_stat: sum`` tracks, per-base means for ``mean``
tracks. With ``ref``/``alt`` the (bins, T) untransformed predictions over the target bins,
the scores per track are

=======  ==========================================================================
SAD      Σ_b (alt_b − ref_b)                         signed total change
LOG2R    Σ_b [log2(1 + alt_b) − log2(1 + ref_b)]     change of log signal, summed
D2       sqrt(Σ_b (alt_b − ref_b)²)                  L2 norm of the change (≥ 0)
MAXD     alt_b* − ref_b*, b* = argmax_b |alt_b − ref_b|   largest single-bin change, signed
=======  ==========================================================================

Per gene (TSS bin t within the target bins, half-width h), for the chosen tracks:
``delta = Σ_{|b−t|≤h} alt_b − Σ_{|b−t|≤h} ref_b`` and
``log2fc = log2(1 + Σ alt) − log2(1 + Σ ref)`` over the same bins.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.inference.signal import tss_sum

SCORE_NAMES = ("SAD", "LOG2R", "D2", "MAXD")
GENE_SCORE_NAMES = ("delta", "log2fc")


def allele_scores(ref: npt.NDArray[np.floating], alt: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Scores of :data:`SCORE_NAMES` from (..., bins, T) original-scale predictions → (..., 4, T)."""
    ref64, alt64 = np.asarray(ref, dtype=np.float64), np.asarray(alt, dtype=np.float64)
    diff = alt64 - ref64
    sad = diff.sum(axis=-2)
    log2r = (np.log2(1.0 + alt64) - np.log2(1.0 + ref64)).sum(axis=-2)
    d2 = np.sqrt((diff**2).sum(axis=-2))
    peak = np.abs(diff).argmax(axis=-2)[..., None, :]
    maxd = np.take_along_axis(diff, peak, axis=-2)[..., 0, :]
    return np.stack([sad, log2r, d2, maxd], axis=-2).astype(np.float32)


def gene_scores(
    ref: npt.NDArray[np.floating], alt: npt.NDArray[np.floating], tss_bins: npt.NDArray[np.integer], half_width: int
) -> npt.NDArray[np.float32]:
    """Per-gene scores (G, 2, T) of :data:`GENE_SCORE_NAMES` from (bins, T) original-scale predictions.

    ``tss_bins`` (G,) are target-bin indices; each gene sums its TSS bin ± ``half_width``
    (:func:`~enformer_lite.inference.signal.tss_sum`, clipped to the target bins).
    """
    r = tss_sum(ref, tss_bins, half_width)  # (G, T) float64
    a = tss_sum(alt, tss_bins, half_width)
    out = np.empty((len(r), 2, r.shape[1]), dtype=np.float32)
    out[:, 0] = a - r
    out[:, 1] = np.log2(1.0 + a) - np.log2(1.0 + r)
    return out
