"""The full path: the oracle evaluated on a whole sequence and its genes."""

from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import N_CODE
from enformer_lite.simulate.oracle.edits import VariantEffect, variant_effect
from enformer_lite.simulate.oracle.fields import SparseFields
from enformer_lite.simulate.oracle.params import GeneSet
from enformer_lite.simulate.oracle.tracks import bin_sum

if TYPE_CHECKING:
    from enformer_lite.simulate.oracle.core import Oracle


class OracleResult:
    """The oracle evaluated on one sequence and its genes, with cached fields.

    Attributes:
        oracle, codes (L,), genes.
        fields: per-base fields over the whole sequence.
        sparse: the non-zero part of ``fields``.
        promoter, enhancer_input, distal_input, cage: (G, C) per gene and cell type.
    """

    def __init__(self, oracle: Oracle, codes: npt.NDArray[np.uint8], genes: GeneSet) -> None:
        length = codes.shape[0]
        if len(genes) and (genes.tss.min() < 0 or genes.tss.max() >= length):
            bad = int(np.flatnonzero((genes.tss < 0) | (genes.tss >= length))[0])
            raise ValueError(
                f"gene {genes.ids[bad]}: TSS {int(genes.tss[bad])} outside the sequence of length {length}"
            )
        self.oracle = oracle
        self.codes = codes
        self.genes = genes
        self.fields = oracle.fields(codes)
        cells = oracle.n_cells
        self.promoter = np.zeros((len(genes), cells))
        self.enhancer_input = np.zeros((len(genes), cells))
        self.distal_input = np.zeros((len(genes), cells))
        reach = oracle.config.max_distance
        self.sparse = SparseFields.from_fields(self.fields)
        for g, t in enumerate(genes.tss.tolist()):
            self.promoter[g] = self.fields.enhancer[:, t]
            self.enhancer_input[g], self.distal_input[g] = oracle.gene_input(
                self.sparse.window(t - reach, t + reach + 1), t
            )
        self.cage = oracle.cage(self.promoter, self.enhancer_input)

    @property
    def length(self) -> int:
        return int(self.codes.shape[0])

    @cached_property
    def distal_share(self) -> npt.NDArray[np.float64]:
        """(G, C) share of CAGE owed to enhancers farther than ``distal_distance``:
        distal input / (basal + total input)."""
        return self.distal_input / (self.oracle.config.basal + self.enhancer_input)

    def base_tracks(self, start: int, stop: int) -> npt.NDArray[np.float64]:
        """Expected per-base signal (stop - start, T)."""
        return self.oracle.base_tracks(
            self.fields.slice(start, stop), start, self.genes.tss, self.genes.strand, self.cage
        )

    def tracks(self, bin_size: int = 128) -> npt.NDArray[np.float64]:
        """Expected track values (ceil(L / bin_size), T): per-base signal summed per bin
        (the last bin may be partial)."""
        n_bins = math.ceil(self.length / bin_size)
        out = np.zeros((n_bins, len(self.oracle.params.tracks)))
        step = max(self.oracle.config.chunk // bin_size, 1) * bin_size
        for start in range(0, self.length, step):
            stop = min(start + step, self.length)
            out[start // bin_size : math.ceil(stop / bin_size)] = bin_sum(self.base_tracks(start, stop), bin_size)
        return out

    # ------------------------------------------------------------------ edits
    def variant_effect(
        self, pos: int, ref: str | npt.ArrayLike, alt: str | npt.ArrayLike, bin_size: int = 128
    ) -> VariantEffect:
        """Exact effect of replacing ``ref`` (which must match the sequence at ``pos``)
        by ``alt``, computed by rescanning only the neighbourhood (:func:`.edits.variant_effect`).

        Raises:
            ValueError: if ``ref`` does not match the sequence or leaves it.
        """
        return variant_effect(self, pos, ref, alt, bin_size)

    def element_effect(self, start: int, end: int, bin_size: int = 128) -> VariantEffect:
        """Exact effect of removing the element [start, end) (replacing it by N)."""
        if not 0 <= start < end <= self.length:
            raise ValueError(f"element [{start}, {end}) is empty or leaves the sequence of length {self.length}")
        return self.variant_effect(start, self.codes[start:end], np.full(end - start, N_CODE, np.uint8), bin_size)
