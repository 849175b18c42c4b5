"""Background DNA of a simulated chromosome: GC isochores, CpG depletion,
soft-masked interspersed and simple repeats, and N gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import N_CODE, reverse_complement

A, C, G, T = 0, 1, 2, 3


@dataclass(frozen=True)
class BackgroundConfig:
    """Knobs of the background generator."""

    gc_mean: float = 0.445  # GC of unique sequence before CpG depletion and repeats (ends near 41 %)
    gc_sd: float = 0.035  # spread of GC between isochore blocks
    gc_block: int = 100_000  # isochore block length
    cpg_keep: float = 0.25  # fraction of CpG dinucleotides that escape deamination
    repeat_fraction: float = 0.42  # share of bases covered by repeat copies (before overlaps)
    start_gap: tuple[int, int] = (10_000, 40_000)  # N run at every chromosome start
    gaps_per_mb: float = 0.6  # internal N runs per Mb
    gap_length: tuple[int, int] = (2_000, 30_000)


@dataclass(frozen=True, eq=False)
class RepeatFamily:
    """An interspersed repeat family: copies are mutated fragments of ``consensus`` (codes)."""

    name: str
    consensus: npt.NDArray[np.uint8]
    weight: float  # share of copies
    full_length: float  # probability that a copy is full length
    three_prime: bool  # fragments keep the 3' end (5'-truncated, LINE-like)


@dataclass(eq=False)
class Background:
    """A chromosome's background: codes (L,) uint8, masked (L,) bool (lower-case in the
    FASTA) and N gaps as half-open intervals."""

    codes: npt.NDArray[np.uint8]
    masked: npt.NDArray[np.bool_]
    gaps: list[tuple[int, int]]


def random_bases(rng: np.random.Generator, n: int, gc: float | np.ndarray) -> npt.NDArray[np.uint8]:
    """n i.i.d. bases with GC fraction ``gc`` (a scalar or one value per base)."""
    u = rng.random(n)
    gc = np.broadcast_to(np.asarray(gc, dtype=np.float64), (n,))
    out = np.where(u < gc / 2, C, np.where(u < gc, G, np.where(u < gc + (1 - gc) / 2, A, T)))
    return out.astype(np.uint8)


def repeat_families(rng: np.random.Generator) -> tuple[RepeatFamily, ...]:
    """A small repeat library: SINE-, LINE-, LTR- and DNA-transposon-like consensus sequences."""
    sine = np.concatenate([random_bases(rng, 280, 0.55), np.full(20, A, np.uint8)])  # A-rich tail
    return (
        RepeatFamily("SINE", sine, 0.45, 0.8, False),
        RepeatFamily("LINE", random_bases(rng, 6_000, 0.38), 0.2, 0.05, True),
        RepeatFamily("LTR", random_bases(rng, 450, 0.45), 0.2, 0.5, False),
        RepeatFamily("DNA", random_bases(rng, 1_200, 0.40), 0.15, 0.3, False),
    )


_SIMPLE_UNITS = ("CA", "TG", "A", "T", "GGAA", "TTAGGG", "AAT", "GT")


def _copy(family: RepeatFamily, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """One mutated (2-25 % divergence), possibly truncated, random-strand copy."""
    full = family.consensus
    n = full.shape[0]
    if rng.random() < family.full_length:
        frag = full
    else:
        length = int(rng.integers(max(50, n // 10), n + 1))
        start = n - length if family.three_prime else int(rng.integers(0, n - length + 1))
        frag = full[start : start + length]
    frag = frag.copy()
    hit = rng.random(frag.shape[0]) < rng.uniform(0.02, 0.25)
    frag[hit] = rng.integers(0, 4, int(hit.sum()), dtype=np.uint8)
    return reverse_complement(frag) if rng.random() < 0.5 else frag


def _simple_repeat(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    unit = np.array(["ACGT".index(b) for b in _SIMPLE_UNITS[int(rng.integers(len(_SIMPLE_UNITS)))]], np.uint8)
    length = int(rng.integers(20, 150))
    return np.resize(unit, length)


def make_background(
    length: int, rng: np.random.Generator, families: tuple[RepeatFamily, ...], cfg: BackgroundConfig
) -> Background:
    """Generate one chromosome's background of ``length`` bases."""
    n_blocks = -(-length // cfg.gc_block)
    block_gc = np.clip(rng.normal(cfg.gc_mean, cfg.gc_sd, n_blocks), 0.3, 0.6)
    codes = random_bases(rng, length, np.repeat(block_gc, cfg.gc_block)[:length])

    # CpG depletion: most CG dinucleotides become TG or CA.
    cpg = np.flatnonzero((codes[:-1] == C) & (codes[1:] == G))
    mutate = cpg[rng.random(cpg.shape[0]) >= cfg.cpg_keep]
    to_tg = rng.random(mutate.shape[0]) < 0.5
    codes[mutate[to_tg]] = T
    codes[mutate[~to_tg] + 1] = A

    masked = np.zeros(length, dtype=bool)
    weights = np.array([f.weight for f in families] + [0.1])
    weights /= weights.sum()
    covered, target = 0, cfg.repeat_fraction * length
    while covered < target:
        pick = int(rng.choice(len(weights), p=weights))
        piece = _simple_repeat(rng) if pick == len(families) else _copy(families[pick], rng)
        if piece.shape[0] >= length:
            continue
        start = int(rng.integers(0, length - piece.shape[0]))
        codes[start : start + piece.shape[0]] = piece
        masked[start : start + piece.shape[0]] = True
        covered += piece.shape[0]

    gaps = [(0, int(rng.integers(*cfg.start_gap)))]
    n_internal = int(rng.poisson(cfg.gaps_per_mb * length / 1e6))
    lo, hi = gaps[0][1] + 100_000, length - 100_000
    for _ in range(n_internal if hi > lo else 0):
        start = int(rng.integers(lo, hi))
        end = min(start + int(rng.integers(*cfg.gap_length)), length)
        if all(end + 50_000 <= s or start >= e + 50_000 for s, e in gaps):
            gaps.append((start, end))
    gaps.sort()
    for s, e in gaps:
        codes[s:e] = N_CODE
        masked[s:e] = False
    return Background(codes, masked, gaps)
