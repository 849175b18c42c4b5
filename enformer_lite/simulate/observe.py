"""Observed tracks: noisy count samples of the oracle's expected signal, as bigWig.

For every ``resolution``-bp stretch the expected count ``mu`` is the sum of the
oracle's per-base signal; the observed count is negative binomial with mean ``mu``
(a gamma-Poisson mixture with shape ``dispersion``); the bigWig value is the
count divided by the stretch length, so summing a bigWig over bases estimates the
expected sum. Stretches touching an N are not written, so readers see NaN there.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyBigWig

from enformer_lite.atomic import atomic_output, staged_bigwig
from enformer_lite.simulate.oracle import OracleResult


def _default_dispersion() -> dict[str, float]:
    return {"DNASE": 5.0, "ATAC": 5.0, "CAGE": 2.0, "CHIP": 5.0}


@dataclass(frozen=True)
class NoiseConfig:
    """How observed tracks are sampled and written."""

    resolution: int = 16  # bp per bigWig entry
    dispersion: dict[str, float] = field(default_factory=_default_dispersion)  # NB shape per assay
    chunk: int = 1 << 20  # bases handled at once


def sample_counts(mu: np.ndarray, dispersion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Negative-binomial counts with mean ``mu`` (n, T) and shape ``dispersion`` (T,)."""
    rate = rng.gamma(shape=np.broadcast_to(dispersion, mu.shape), scale=mu / dispersion)
    return rng.poisson(rate).astype(np.float64)


def write_observed_bigwigs(
    paths: list[Path],
    results: list[tuple[str, OracleResult]],
    assays: list[str],
    rngs: list[np.random.Generator],
    cfg: NoiseConfig,
) -> None:
    """Write one bigWig per track for all chromosomes.

    Args:
        paths: T output paths, in track order.
        results: (chromosome name, oracle result) in FASTA order.
        assays: T assay names (choose the dispersion).
        rngs: one generator per chromosome.
        cfg: noise settings.
    """
    res = cfg.resolution
    if cfg.chunk % res:
        raise ValueError(f"chunk {cfg.chunk} must be a multiple of the resolution {res}")
    dispersion = np.array([cfg.dispersion[a] for a in assays])
    header = [(name, r.length) for name, r in results]
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_output(p)) for p in paths]
        staged = [stack.enter_context(staged_bigwig(t)) for t in tmps]  # libBigWig crashes on a full disk
        handles = [pyBigWig.open(name, "w") for name in staged]
        for bw in handles:
            stack.callback(bw.close)  # runs before the renames (last in, first out)
        for bw in handles:
            bw.addHeader(header, maxZooms=10)
        for (name, result), rng in zip(results, rngs):
            for start in range(0, result.length, cfg.chunk):
                stop = min(start + cfg.chunk, result.length)
                _write_chunk(handles, name, result, start, stop, res, dispersion, rng)


def _write_chunk(handles, name, result: OracleResult, start: int, stop: int, res: int, dispersion, rng) -> None:
    base = result.base_tracks(start, stop)  # (n, T)
    n = stop - start
    n_full = n // res
    edges = list(range(0, n_full * res + 1, res)) + ([n] if n % res else [])
    mu = np.add.reduceat(base, edges[:-1], axis=0)  # (m, T)
    not_n = np.logical_and.reduceat(result.fields.not_n[start:stop], edges[:-1])
    counts = sample_counts(mu, dispersion, rng)
    span = np.diff(edges)
    values = counts / span[:, None]
    runs = _runs(not_n[:n_full])
    for j, bw in enumerate(handles):
        for a, b in runs:
            bw.addEntries(name, start + a * res, values=values[a:b, j].copy(), span=res, step=res)
        if n % res and not_n[-1]:
            bw.addEntries([name], [start + n_full * res], ends=[stop], values=[float(values[-1, j])])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index runs where ``mask`` is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    return list(zip(change[::2].tolist(), change[1::2].tolist()))
