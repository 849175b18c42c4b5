"""Transcription-factor motifs: JASPAR count matrices, log-odds scores, thresholds.

The shipped file ``data/jaspar2024_core_vertebrates.jaspar`` holds real count
matrices from JASPAR 2024 CORE (vertebrates); see ``data/README.md``.

Scores are quantised to integers (``SCORE_UNITS`` per bit). Sums of integers are
exact in float32 up to 2**24, so a convolution gives bit-identical scores however
the sequence is chunked, which keeps the oracle's local updates exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from enformer_lite.errors import InputError

SCORE_UNITS = 64
"""Integer score units per bit of log-odds."""

DEFAULT_BACKGROUND = (0.295, 0.205, 0.205, 0.295)
"""A, C, G, T frequencies of a 41 % GC genome."""

_ROW = re.compile(r"^\s*([ACGTacgt])\s*\[(.*)\]\s*$")


@dataclass(frozen=True, eq=False)
class Motif:
    """One position frequency matrix.

    Attributes:
        matrix_id: JASPAR matrix id with version, e.g. ``"MA0139.2"``.
        name: transcription factor name, e.g. ``"CTCF"``.
        counts: (L, 4) float64 counts for A, C, G, T at each motif position.
    """

    matrix_id: str
    name: str
    counts: npt.NDArray[np.float64]

    @property
    def length(self) -> int:
        return int(self.counts.shape[0])

    def probabilities(self, pseudo: float = 0.1, background: tuple[float, ...] = DEFAULT_BACKGROUND) -> np.ndarray:
        """Column probabilities (L, 4) with a background-shaped pseudo-frequency.

        ``p = (f + pseudo * bg) / (1 + pseudo)`` where ``f`` are the column
        frequencies, so a base never seen in the matrix costs a bounded penalty.
        """
        freqs = self.counts / self.counts.sum(axis=1, keepdims=True)
        return (freqs + pseudo * np.asarray(background)) / (1.0 + pseudo)

    def quantised_log_odds(
        self, pseudo: float = 0.1, background: tuple[float, ...] = DEFAULT_BACKGROUND
    ) -> npt.NDArray[np.int64]:
        """Log2-odds against the background in integer units, shape (L, 4)."""
        log_odds = np.log2(self.probabilities(pseudo, background) / np.asarray(background))
        return np.rint(log_odds * SCORE_UNITS).astype(np.int64)


def parse_jaspar(text: str, source: str = "<string>") -> list[Motif]:
    """Parse JASPAR-format matrices (``>ID NAME`` then rows ``A [ ... ]`` for A, C, G, T).

    Raises:
        InputError: naming ``source`` and the matrix for a malformed record.
    """
    motifs: list[Motif] = []
    header: tuple[str, str] | None = None
    rows: dict[str, list[float]] = {}

    def finish() -> None:
        if header is None:
            return
        if sorted(rows) != ["A", "C", "G", "T"]:
            raise InputError(f"{source}: matrix {header[0]} needs rows A, C, G, T, got {sorted(rows)}")
        lengths = {len(v) for v in rows.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise InputError(f"{source}: matrix {header[0]} has rows of unequal or zero length {sorted(lengths)}")
        counts = np.array([rows[b] for b in "ACGT"], dtype=np.float64).T
        if (counts < 0).any() or (counts.sum(axis=1) <= 0).any():
            raise InputError(f"{source}: matrix {header[0]} has negative counts or an empty column")
        motifs.append(Motif(header[0], header[1], counts))

    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith(">"):
            finish()
            fields = line[1:].split()
            if not fields:
                raise InputError(f"{source}:{lineno}: empty matrix header")
            header = (fields[0], fields[1] if len(fields) > 1 else fields[0])
            rows = {}
            continue
        match = _ROW.match(line)
        if header is None or match is None:
            raise InputError(f"{source}:{lineno}: cannot parse line {line!r}")
        base = match.group(1).upper()
        if base in rows:
            raise InputError(f"{source}:{lineno}: matrix {header[0]} repeats row {base}")
        try:
            rows[base] = [float(x) for x in match.group(2).split()]
        except ValueError as err:
            raise InputError(f"{source}:{lineno}: matrix {header[0]} row {base}: {err}") from None
    finish()
    return motifs


def read_jaspar(path: str | Path) -> list[Motif]:
    """Read a JASPAR-format file."""
    return parse_jaspar(Path(path).read_text(), source=str(path))


@lru_cache(maxsize=1)
def _default_motifs() -> tuple[Motif, ...]:
    ref = resources.files("enformer_lite.simulate").joinpath("data/jaspar2024_core_vertebrates.jaspar")
    return tuple(parse_jaspar(ref.read_text(), source=str(ref)))


def default_motifs() -> tuple[Motif, ...]:
    """The shipped JASPAR 2024 CORE vertebrate matrices, in file order."""
    return _default_motifs()


def score_tail(
    log_odds: npt.NDArray[np.int64], background: tuple[float, ...] = DEFAULT_BACKGROUND
) -> tuple[np.ndarray, np.ndarray]:
    """Exact distribution of an integer PWM score over i.i.d. background sequence.

    Returns:
        scores: (S,) every reachable integer score, ascending.
        tail: (S,) probability that a background window scores >= that score.
    """
    lo = int(log_odds.min(axis=1).sum())
    hi = int(log_odds.max(axis=1).sum())
    dist = np.zeros(hi - lo + 1)
    dist[-lo] = 1.0  # index i holds score lo + i; score 0 before any column
    for column in log_odds:
        new = np.zeros_like(dist)
        for base, weight in enumerate(column):
            # Every column has a max >= 0 and a min <= 0, so partial sums stay
            # inside [lo, hi] and np.roll never wraps probability mass.
            new += background[base] * np.roll(dist, int(weight))
        dist = new
    scores = np.arange(lo, hi + 1)
    keep = dist > 0
    scores, probs = scores[keep], dist[keep]
    tail = np.cumsum(probs[::-1])[::-1]
    return scores, tail


def background_threshold(
    log_odds: npt.NDArray[np.int64],
    p_value: float,
    max_margin_bits: float,
    background: tuple[float, ...] = DEFAULT_BACKGROUND,
) -> int:
    """Integer score threshold: the lowest score with background tail <= ``p_value``,
    but never more than ``max_margin_bits`` below the motif's best score."""
    scores, tail = score_tail(log_odds, background)
    passing = scores[tail <= p_value]
    best = int(log_odds.max(axis=1).sum())
    threshold = int(passing[0]) if passing.size else best
    return min(threshold, best - round(max_margin_bits * SCORE_UNITS))


def sample_site(
    motif_log_odds: npt.NDArray[np.int64],
    probabilities: np.ndarray,
    min_score: int,
    rng: np.random.Generator,
    max_tries: int = 10_000,
) -> npt.NDArray[np.uint8]:
    """Draw one binding site (L,) codes from the motif's column probabilities,
    conditioned on its score being >= ``min_score`` (rejection sampling in batches).

    Raises:
        ValueError: if no sample reaches ``min_score`` within ``max_tries``.
    """
    length = probabilities.shape[0]
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    drawn = 0
    while drawn < max_tries:
        batch = 256
        u = rng.random((batch, length))
        codes = (u[:, :, None] > cumulative[None, :, :]).sum(axis=2).astype(np.uint8)
        scores = motif_log_odds[np.arange(length)[None, :], codes].sum(axis=1)
        hits = np.flatnonzero(scores >= min_score)
        if hits.size:
            return codes[hits[0]]
        drawn += batch
    raise ValueError(f"no motif sample reached score {min_score} in {max_tries} draws")
