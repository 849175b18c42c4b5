"""The fast path: exact effects of an edit, recomputing only its neighbourhood.

Every field is local in sequence (a motif scan plus a box of ``half_window``), so the
fields of an edited sequence are the reference's outside ``[pos - pad, pos + len(alt) + pad)``
and a rescan inside it; only genes within ``max_distance`` of that stretch can change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import N_CODE, decode
from enformer_lite.simulate.oracle.fields import Fields, SparseFields
from enformer_lite.simulate.oracle.params import as_codes
from enformer_lite.simulate.oracle.tracks import bin_sum

if TYPE_CHECKING:
    from enformer_lite.simulate.oracle.result import OracleResult


@dataclass(eq=False)
class VariantEffect:
    """Exact effect of replacing ``ref`` by ``alt`` at ``pos``.

    Attributes:
        pos: 0-based position of the first reference base.
        ref, alt: alleles as upper-case strings (alt may be empty or N's).
        gene_index: (n,) indices into the GeneSet of every gene whose window reaches
            the change (all other genes are exactly unchanged).
        cage_ref, cage_alt: (n, C) expected CAGE counts at the TSS per cell type.
        bin_size: bin size of the windows below.
        first_bin: index of the first bin of both windows.
        window_ref: (B_ref, T) expected tracks of the reference over the changed stretch.
        window_alt: (B_alt, T) expected tracks of the edited sequence, bins counted from
            the same start (they differ in number for indels).
        variant_bin: index of the bin holding ``pos``.
    """

    pos: int
    ref: str
    alt: str
    gene_index: npt.NDArray[np.int64]
    cage_ref: npt.NDArray[np.float64]
    cage_alt: npt.NDArray[np.float64]
    bin_size: int
    first_bin: int
    window_ref: npt.NDArray[np.float64]
    window_alt: npt.NDArray[np.float64]
    variant_bin: int

    @property
    def cage_delta(self) -> npt.NDArray[np.float64]:
        """(n, C) alt - ref CAGE at each reached gene's TSS."""
        return self.cage_alt - self.cage_ref

    @property
    def bin_ref(self) -> npt.NDArray[np.float64]:
        """(T,) reference tracks at the variant's bin."""
        return self.window_ref[self.variant_bin - self.first_bin]

    @property
    def bin_alt(self) -> npt.NDArray[np.float64]:
        """(T,) edited tracks at the variant's bin."""
        return self.window_alt[self.variant_bin - self.first_bin]


@dataclass(frozen=True)
class Edit:
    """A replacement of codes[pos:pos+r] by ``alt`` (r = len(ref))."""

    pos: int
    ref_len: int
    alt: npt.NDArray[np.uint8]

    @property
    def delta(self) -> int:
        """Change in sequence length."""
        return int(self.alt.shape[0]) - self.ref_len

    def new_codes(self, codes: npt.NDArray[np.uint8], start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Edited sequence (stop - start,) over new coordinates [start, stop), N outside it."""
        idx = np.arange(start, stop)
        out = np.full(idx.shape[0], N_CODE, dtype=np.uint8)
        a = self.alt.shape[0]
        left = (idx >= 0) & (idx < self.pos)
        mid = (idx >= self.pos) & (idx < self.pos + a)
        old = idx - self.delta
        right = (idx >= self.pos + a) & (old < codes.shape[0])
        out[left] = codes[idx[left]]
        out[mid] = self.alt[idx[mid] - self.pos]
        out[right] = codes[old[right]]
        return out

    def new_tss(self, tss: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """TSS positions (G,) after the edit; a TSS inside the replaced bases stays put,
        or moves to the last alt base if the edit got shorter."""
        moved = tss.copy()
        after = tss >= self.pos + self.ref_len
        moved[after] += self.delta
        inside = (tss >= self.pos) & ~after
        moved[inside] = self.pos + np.minimum(tss[inside] - self.pos, max(self.alt.shape[0] - 1, 0))
        return moved


class Splice:
    """Fields of an edited sequence: the reference's fields left of ``lo``, ``local``
    over [lo, hi) (new coordinates), the reference's shifted by ``delta`` from ``hi`` on."""

    def __init__(self, ref: OracleResult, local: Fields, lo: int, hi: int, delta: int) -> None:
        self.ref, self.local, self.lo, self.hi, self.delta = ref, local, lo, hi, delta
        self.local_sparse = SparseFields.from_fields(local, offset=lo)

    def window(self, a: int, b: int) -> Fields:
        """Dense fields of the edited sequence over new coordinates [a, b)."""
        old = self.ref.fields
        parts: list[Fields] = []
        if a < self.lo:
            parts.append(old.slice(a, min(b, self.lo)))
        if b > self.lo and a < self.hi:
            parts.append(self.local.slice(max(a, self.lo) - self.lo, min(b, self.hi) - self.lo))
        if b > self.hi:
            parts.append(old.slice(max(a, self.hi) - self.delta, b - self.delta))
        return parts[0] if len(parts) == 1 else Fields.concatenate(parts)

    def sparse(self, a: int, b: int) -> SparseFields:
        """Sparse fields of the edited sequence over new coordinates [a, b)."""
        old = self.ref.sparse
        return SparseFields.concatenate(
            [
                old.window(a, min(b, self.lo)),
                self.local_sparse.window(max(a, self.lo), min(b, self.hi)),
                old.window(max(a, self.hi) - self.delta, b - self.delta, shift=self.delta),
            ]
        )


def variant_effect(
    result: OracleResult, pos: int, ref: str | npt.ArrayLike, alt: str | npt.ArrayLike, bin_size: int = 128
) -> VariantEffect:
    """Exact effect of replacing ``ref`` (which must match ``result``'s sequence at ``pos``)
    by ``alt``, computed by rescanning only the neighbourhood.

    Raises:
        ValueError: if ``ref`` does not match the sequence or leaves it.
    """
    ref_codes, alt_codes = as_codes(ref), as_codes(alt)
    r = ref_codes.shape[0]
    if pos < 0 or pos + r > result.length:
        raise ValueError(f"variant at {pos} with REF of length {r} leaves the sequence of length {result.length}")
    if not np.array_equal(result.codes[pos : pos + r], ref_codes):
        found = decode(result.codes[pos : pos + r])
        raise ValueError(f"variant at {pos}: REF {decode(ref_codes)} does not match the sequence {found}")
    edit = Edit(pos, r, alt_codes)
    oracle, pad = result.oracle, result.oracle.pad
    new_length = result.length + edit.delta
    lo = max(0, pos - pad)
    hi_new = min(new_length, pos + alt_codes.shape[0] + pad)
    local = oracle.segment_fields(edit.new_codes(result.codes, lo - pad, hi_new + pad))
    splice = Splice(result, local, lo, hi_new, edit.delta)

    reach = oracle.config.max_distance
    new_tss = edit.new_tss(result.genes.tss)
    hit = (new_tss + reach >= lo) & (new_tss - reach < hi_new) | (
        (result.genes.tss + reach >= lo) & (result.genes.tss - reach < hi_new - edit.delta)
    )
    index = np.flatnonzero(hit)
    cage_alt_all = result.cage.copy()
    unchanged = (
        edit.delta == 0
        and np.array_equal(local.enhancer, result.fields.enhancer[:, lo:hi_new])
        and np.array_equal(local.insulation, result.fields.insulation[lo:hi_new])
    )
    for g in [] if unchanged else index.tolist():
        t = int(new_tss[g])
        total, _ = oracle.gene_input(splice.sparse(t - reach, t + reach + 1), t)
        promoter = splice.window(t, t + 1).enhancer[:, 0].astype(np.float64)
        cage_alt_all[g] = oracle.cage(promoter, total)

    first_bin = lo // bin_size
    start = first_bin * bin_size
    stop_ref = min(result.length, math.ceil((hi_new - edit.delta) / bin_size) * bin_size)
    stop_alt = min(new_length, math.ceil(hi_new / bin_size) * bin_size)
    window_ref = bin_sum(result.base_tracks(start, stop_ref), bin_size)
    window_alt = bin_sum(
        oracle.base_tracks(splice.window(start, stop_alt), start, new_tss, result.genes.strand, cage_alt_all),
        bin_size,
    )
    return VariantEffect(
        pos=pos,
        ref=decode(ref_codes),
        alt=decode(alt_codes),
        gene_index=index,
        cage_ref=result.cage[index],
        cage_alt=cage_alt_all[index],
        bin_size=bin_size,
        first_bin=first_bin,
        window_ref=window_ref,
        window_alt=window_alt,
        variant_bin=pos // bin_size,
    )
