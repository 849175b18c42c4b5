"""Variant-effect scores from reference and alternative predictions on the tracks' original scale.

Predictions are first mapped back to the scale of the input bigWigs with
:meth:`TrackSpec.untransform` (divide by ``scale``, undo the soft clip): bin sums for
``sum_stat: sum`` tracks, per-base means for ``mean`` tracks. With ``ref``/``alt`` the
(bins, T) untransformed predictions over the target bins, the scores per track are

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

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from enformer_lite.tracks import TrackSpec

SCORE_NAMES = ("SAD", "LOG2R", "D2", "MAXD")
GENE_SCORE_NAMES = ("delta", "log2fc")


class OriginalScale:
    """Applies each track's :meth:`TrackSpec.untransform` to the last axis of an array.

    Tracks sharing one transform (scale and soft clip) are untransformed together, so the
    cost does not grow with the number of tracks.
    """

    def __init__(self, tracks: Sequence[TrackSpec]) -> None:
        groups: dict[tuple[float, float | None], list[int]] = {}
        for i, track in enumerate(tracks):
            groups.setdefault((track.scale, track.clip_soft), []).append(i)
        self._groups = [(tracks[idx[0]], np.asarray(idx)) for idx in groups.values()]

    def __call__(self, values: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Training-scale (..., T) → original scale (..., T) float32."""
        out = np.empty(values.shape, dtype=np.float32)
        for track, index in self._groups:
            out[..., index] = track.untransform(values[..., index])
        return out


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
    """Per-gene scores (G, 2, T) of :data:`GENE_SCORE_NAMES` from (bins, T) predictions.

    ``tss_bins`` (G,) are target-bin indices; the summed bins are clipped to the target.
    """
    n_bins = ref.shape[0]
    out = np.empty((len(tss_bins), 2, ref.shape[1]), dtype=np.float32)
    for g, t in enumerate(np.asarray(tss_bins).tolist()):
        lo, hi = max(0, t - half_width), min(n_bins, t + half_width + 1)
        r = np.asarray(ref[lo:hi], dtype=np.float64).sum(axis=0)
        a = np.asarray(alt[lo:hi], dtype=np.float64).sum(axis=0)
        out[g, 0] = a - r
        out[g, 1] = np.log2(1.0 + a) - np.log2(1.0 + r)
    return out
