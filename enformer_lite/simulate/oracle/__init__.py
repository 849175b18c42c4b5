"""The exact oracle of the simulated world: expected track values as a function of DNA.

Model (all positions 0-based, per base; knobs from :class:`OracleConfig`):

1. Motif occupancy (:mod:`.scan`). Each motif k is scanned on both strands with
   integer log-odds scores ``s`` (``SCORE_UNITS`` per bit); a strand is bound with
   probability ``sigmoid((s - theta_k) / tau)``, ``tau = SCORE_UNITS * temperature_bits``,
   and not at all where ``s < theta_k - occupancy_cutoff * tau``. ``theta_k`` is the
   lowest score with background tail probability <= ``p_value`` (``insulator_p_value``
   for the insulator), at most ``max_margin_bits`` below the best score
   (:func:`~enformer_lite.simulate.motifs.background_threshold`). The two strands
   combine as ``1 - (1 - o+)(1 - o-)``. Windows touching N (or the sequence ends)
   score nothing. Occupancy ``O[k, c]`` sits at the motif centre ``c = q + (L_k - 1) // 2``
   of a window starting at q.
2. Element activity per cell type c (:mod:`.activity`):
   ``x_c(p) = sum_k A'[c, k] * S_k(p)``, ``S_k(p) = sum_{|q-p|<=w} O[k, q]``,
   with the (C, K) cell-type TF activity matrix ``A`` whose insulator column is set to
   0 (``A'``), then a thresholded Hill function ``E_c = h(x_c)``,
   ``h(x) = u^n / (K^n + u^n)``, ``u = max(x - x0, 0)``, so one motif does little and
   combinations act. ``E`` is stored as float32.
3. Accessibility ``D_c = h(x_c + a_ins * S_ins)`` where ``S_ins`` is the smoothed
   insulator (CTCF) occupancy; DNase/ATAC per base is ``(bg + scale * D_c) * [not N]``.
   ChIP of TF k per base is ``(bg + scale * g * S_k) * [not N]``, ``g = max(A[c, k], 0)``
   unless k is the insulator (``g = 1``) (:mod:`.tracks`).
4. Genes. Promoter activity ``P_c(g) = E_c(tss)``. Enhancer input (:mod:`.contact`)
   ``I_c(g) = 1/(2w+1) * sum_{p != tss} E_c(p) * contact(|p - tss|) * insulation(p, tss)``
   with ``contact(d) = ramp(d) * (1 + d/d0)^-alpha`` for ``d <= max_distance`` (0 beyond),
   ``ramp(d) = clip((d - contact_min) / contact_ramp, 0, 1)`` (hands the promoter's own
   neighbourhood to ``P``) and (:mod:`.insulation`)
   ``insulation(p, tss) = prod over insulator positions q strictly between p and tss of
   (1 - block * O_ins[q])``. The distal input is the same sum over ``|p - tss| >
   distal_distance``. Expected CAGE counts at the TSS (:mod:`.expression`):
   ``cage_scale * P_c * (basal + I_c)``, spread over the triangular peak
   ``(hw + 1 - |i|) / (hw + 1)^2`` at ``tss + i``, ``|i| <= hw = tss_half_width``, on
   the gene's strand, over a per-base background ``cage_background * [not N]`` (half of
   it on each track of a stranded pair).

Binned tracks sum the per-base values per bin (:meth:`OracleResult.tracks`).

Because every quantity is local in sequence (motif scan + box of ``w``) or a sum
over a window of ``max_distance`` around each TSS, a variant can be scored exactly
by recomputing only its neighbourhood and the genes in reach
(:meth:`OracleResult.variant_effect`, :mod:`.edits`; the whole-sequence path is
:mod:`.result`).

Modules: :mod:`.params` (inputs), :mod:`.fields` (per-base fields), :mod:`.scan`,
:mod:`.activity`, :mod:`.insulation`, :mod:`.contact`, :mod:`.expression`,
:mod:`.tracks` (the model's steps), :mod:`.core` (:class:`Oracle` and the plain API),
:mod:`.result` (full path), :mod:`.edits` (fast path).
"""

from enformer_lite.simulate.oracle.core import Oracle, element_effect, expected_tracks, variant_effect
from enformer_lite.simulate.oracle.edits import VariantEffect
from enformer_lite.simulate.oracle.fields import Fields, SparseFields
from enformer_lite.simulate.oracle.params import ASSAYS, GeneSet, OracleConfig, OracleParams, TrackSpec, as_codes
from enformer_lite.simulate.oracle.result import OracleResult

__all__ = [
    "ASSAYS",
    "Fields",
    "GeneSet",
    "Oracle",
    "OracleConfig",
    "OracleParams",
    "OracleResult",
    "SparseFields",
    "TrackSpec",
    "VariantEffect",
    "as_codes",
    "element_effect",
    "expected_tracks",
    "variant_effect",
]
