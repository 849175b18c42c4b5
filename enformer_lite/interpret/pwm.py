"""PWM scanning with the shipped JASPAR matrices: best site scores on both strands, REF vs ALT.

Scores are the simulator's integer log-odds (:meth:`~enformer_lite.simulate.motifs.Motif.quantised_log_odds`,
``SCORE_UNITS`` per bit, against the 41 % GC background); an N scores the column minimum. A hit
needs a score at or above :func:`~enformer_lite.simulate.motifs.background_threshold` for the
configured p-value. Results are reported in bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import encode
from enformer_lite.simulate.motifs import SCORE_UNITS, Motif, background_threshold


@dataclass(frozen=True, eq=False)
class PwmSet:
    """Integer log-odds of each motif, extended with an N column, and each motif's hit threshold.

    Attributes:
        motifs: the matrices, in order.
        log_odds: per motif (L, 5) int64: A, C, G, T, then N (= the column minimum).
        thresholds: (K,) integer hit thresholds.
    """

    motifs: tuple[Motif, ...]
    log_odds: tuple[npt.NDArray[np.int64], ...]
    thresholds: npt.NDArray[np.int64]

    @classmethod
    def build(cls, motifs: tuple[Motif, ...], p_value: float, max_margin_bits: float) -> PwmSet:
        tables, thresholds = [], []
        for motif in motifs:
            lo = motif.quantised_log_odds()
            tables.append(np.concatenate([lo, lo.min(axis=1, keepdims=True)], axis=1))
            thresholds.append(background_threshold(lo, p_value, max_margin_bits))
        return cls(tuple(motifs), tuple(tables), np.array(thresholds, dtype=np.int64))

    @property
    def max_length(self) -> int:
        return max(m.length for m in self.motifs)


def _reverse_complement_table(table: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """(L, 5) table of the reverse strand: positions reversed, A↔T and C↔G, N kept."""
    return np.concatenate([table[::-1, 3::-1], table[::-1, 4:]], axis=1)


def scan(codes: npt.NDArray[np.uint8], table: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Scores of every window of ``codes`` (S,) on the + and − strand: two (S - L + 1,) arrays (empty if S < L)."""
    length = table.shape[0]
    if codes.shape[0] < length:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(codes.astype(np.intp), length)
    cols = np.arange(length)
    plus = table[cols, windows].sum(axis=1)
    minus = _reverse_complement_table(table)[cols, windows].sum(axis=1)
    return plus, minus


@dataclass(frozen=True)
class Hit:
    """The best site of one motif in a sequence: score (integer units), 0-based start, strand (+1/−1)."""

    score: int
    start: int
    strand: int

    @property
    def bits(self) -> float:
        return self.score / SCORE_UNITS


def best_hit(codes: npt.NDArray[np.uint8], table: npt.NDArray[np.int64]) -> Hit | None:
    """Best-scoring window of ``codes`` on either strand (ties: + strand, leftmost); None if too short."""
    plus, minus = scan(codes, table)
    if plus.size == 0:
        return None
    i, j = int(plus.argmax()), int(minus.argmax())
    return Hit(int(plus[i]), i, 1) if plus[i] >= minus[j] else Hit(int(minus[j]), j, -1)


@dataclass(frozen=True)
class MotifChange:
    """Best score of one motif over the windows touching a variant, REF and ALT (bits)."""

    motif: Motif
    ref_bits: float
    alt_bits: float
    threshold_bits: float

    @property
    def delta_bits(self) -> float:
        return self.alt_bits - self.ref_bits


def variant_changes(
    pwms: PwmSet, left: npt.NDArray[np.uint8], ref: str, alt: str, right: npt.NDArray[np.uint8]
) -> list[MotifChange]:
    """For each motif, the best score over windows overlapping the allele, on the REF and the ALT sequence.

    ``left``/``right`` are the ``pwms.max_length - 1`` bases before and after REF (N-padded at the
    chromosome ends). For an indel the windows overlapping either allele span are used.
    """
    ref_codes, alt_codes = encode(ref), encode(alt)
    flank = pwms.max_length - 1
    out = []
    for motif, table, threshold in zip(pwms.motifs, pwms.log_odds, pwms.thresholds.tolist()):
        cut = flank - (motif.length - 1)
        lt, rt = left[cut:], right[: right.shape[0] - cut]
        scores = []
        for allele in (ref_codes, alt_codes):
            if allele.shape[0] == 0 and lt.shape[0] == 0:
                scores.append(float("nan"))
                continue
            hit = best_hit(np.concatenate([lt, allele, rt]), table)
            scores.append(hit.bits if hit is not None else float("nan"))
        out.append(MotifChange(motif, scores[0], scores[1], threshold / SCORE_UNITS))
    return out


def call_change(changes: list[MotifChange], min_delta_bits: float) -> tuple[str, MotifChange | None]:
    """The strongest motif change: ``disrupted`` (REF is a hit, ALT at least ``min_delta_bits`` lower),
    ``created`` (ALT is a hit, REF at least that much lower), else ``none``; largest |delta| wins."""
    best: tuple[str, MotifChange | None] = ("none", None)
    size = 0.0
    for change in changes:
        d = change.delta_bits
        if not np.isfinite(d) or abs(d) < min_delta_bits or abs(d) <= size:
            continue
        if d < 0 and change.ref_bits >= change.threshold_bits:
            best, size = ("disrupted", change), abs(d)
        elif d > 0 and change.alt_bits >= change.threshold_bits:
            best, size = ("created", change), abs(d)
    return best
