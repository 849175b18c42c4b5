"""The compiled oracle: wires the scan, activity, contact, expression and track steps
together, and the plain functional API on top of it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import N_CODE
from enformer_lite.simulate.oracle.activity import activity_fields
from enformer_lite.simulate.oracle.contact import contact_table, gene_input
from enformer_lite.simulate.oracle.edits import VariantEffect
from enformer_lite.simulate.oracle.expression import expected_cage
from enformer_lite.simulate.oracle.fields import Fields, SparseFields
from enformer_lite.simulate.oracle.params import GeneSet, OracleParams, as_codes, extended
from enformer_lite.simulate.oracle.result import OracleResult
from enformer_lite.simulate.oracle.scan import MotifScanner
from enformer_lite.simulate.oracle.tracks import TrackRenderer


class Oracle:
    """A compiled oracle: motif filters, thresholds and the contact table.

    Attributes:
        params, config: what it was built from.
        n_cells: C.
        scanner: the compiled motifs (:class:`MotifScanner`); ``lengths`` (K,),
            ``max_len``, ``offsets`` (K,), ``thresholds`` (K,) and ``log_odds`` are its.
        insulator: motif index of the insulator TF.
        enhancer_weights: (C, K) TF activity with the insulator column set to 0.
        chip_targets: sorted motif indices of the ChIP targets and the insulator (J).
        pad: context bases a stretch needs on each side (``max_len + half_window``).
        contact: (max_distance + 1,) contact(d).
        renderer: the track renderer; ``tss_kernel`` and ``cell_index`` are its.
    """

    def __init__(self, params: OracleParams) -> None:
        self.params = params
        cfg = params.config
        self.config = cfg
        self.n_cells = len(params.cell_types)
        names = params.tf_names
        self.scanner = MotifScanner(params)
        self.lengths = self.scanner.lengths
        self.max_len = self.scanner.max_len
        self.offsets = self.scanner.offsets
        self.thresholds = self.scanner.thresholds
        self.log_odds = self.scanner.log_odds
        self.insulator = names.index(cfg.insulator)
        enh = np.array(params.activity, dtype=np.float64)
        enh[:, self.insulator] = 0.0
        self.enhancer_weights = enh  # (C, K)
        self.chip_targets = sorted(
            {names.index(t.target) for t in params.tracks if t.assay == "CHIP"} | {self.insulator}
        )
        self.pad = self.max_len + cfg.half_window
        self.contact = contact_table(cfg)
        self.renderer = TrackRenderer(params, self.chip_targets, self.insulator)
        self.tss_kernel = self.renderer.tss_kernel
        self.cell_index = self.renderer.cell_index

    # ------------------------------------------------------------------ scanning
    def scores(self, padded: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Integer scores (2K, n - max_len + 1) of ``padded`` (n,): :meth:`MotifScanner.scores`."""
        return self.scanner.scores(padded)

    def occupancy(self, ext: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """Motif occupancy (K, n) of codes ``ext`` (n,): :meth:`MotifScanner.occupancy`."""
        return self.scanner.occupancy(ext)

    def segment_fields(self, ext: npt.NDArray[np.uint8]) -> Fields:
        """Fields for the central part of ``ext``: codes of [lo - pad, hi + pad), N outside
        the sequence. Returns fields for the hi - lo central bases."""
        pad = self.pad
        n = ext.shape[0] - 2 * pad
        occ = self.scanner.occupancy(ext)
        not_n = ext[pad : pad + n] != N_CODE
        return activity_fields(occ, not_n, pad, self.enhancer_weights, self.chip_targets, self.insulator, self.config)

    def fields(self, codes: npt.NDArray[np.uint8]) -> Fields:
        """Fields of a whole sequence (L,), computed chunk by chunk."""
        length = codes.shape[0]
        step = self.config.chunk
        parts = [
            self.segment_fields(extended(codes, lo, min(lo + step, length), self.pad)) for lo in range(0, length, step)
        ]
        if not parts:
            return self.segment_fields(extended(codes, 0, 0, self.pad))
        return Fields.concatenate(parts)

    # ------------------------------------------------------------------ genes
    def gene_input(self, sparse: SparseFields, t: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Enhancer input (C,) of a TSS at ``t`` and its distal part (C,): :func:`.contact.gene_input`."""
        return gene_input(sparse, t, self.contact, self.config)

    def cage(self, promoter: np.ndarray, enhancer_input: np.ndarray) -> np.ndarray:
        """Expected CAGE counts at the TSS from P (..., C) and I (..., C)."""
        return expected_cage(promoter, enhancer_input, self.config)

    # ------------------------------------------------------------------ tracks
    def base_tracks(
        self,
        fields: Fields,
        start: int,
        tss: npt.NDArray[np.int64],
        strand: npt.NDArray[np.int8],
        cage: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Expected per-base tracks (n, T) for ``fields`` covering [start, start + n):
        :meth:`TrackRenderer.base_tracks`."""
        return self.renderer.base_tracks(fields, start, tss, strand, cage)

    def evaluate(self, codes: str | npt.ArrayLike, genes: GeneSet | None = None) -> OracleResult:
        """Run the oracle on a whole sequence (codes or a string, any case)."""
        return OracleResult(self, as_codes(codes), genes if genes is not None else GeneSet.empty())


# ---------------------------------------------------------------------- plain API
def expected_tracks(
    codes: str | npt.ArrayLike, genes: GeneSet | None, params: OracleParams, bin_size: int = 128
) -> npt.NDArray[np.float64]:
    """Expected track values (ceil(L / bin_size), T) of a sequence with its genes."""
    return Oracle(params).evaluate(codes, genes).tracks(bin_size)


def variant_effect(
    codes: str | npt.ArrayLike,
    genes: GeneSet | None,
    params: OracleParams,
    pos: int,
    ref: str | npt.ArrayLike,
    alt: str | npt.ArrayLike,
    bin_size: int = 128,
) -> VariantEffect:
    """True effect of a substitution or indel (see :meth:`OracleResult.variant_effect`)."""
    return Oracle(params).evaluate(codes, genes).variant_effect(pos, ref, alt, bin_size)


def element_effect(
    codes: str | npt.ArrayLike, genes: GeneSet | None, params: OracleParams, start: int, end: int
) -> VariantEffect:
    """True effect on every gene of replacing [start, end) by N."""
    return Oracle(params).evaluate(codes, genes).element_effect(start, end)
