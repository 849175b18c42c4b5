"""Reference FASTA access (pyfaidx) and chromosome-name harmonisation."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyfaidx

from enformer_lite.errors import InputError
from enformer_lite.sequence import N_CODE, encode

log = logging.getLogger(__name__)

_MITO = ("chrM", "MT", "chrMT", "M")


def chrom_aliases(name: str) -> list[str]:
    """Other spellings of a chromosome name: ``chr1`` ↔ ``1``, ``chrM`` ↔ ``MT``."""
    if name in _MITO:
        return [m for m in _MITO if m != name]
    if name.startswith("chr"):
        return [name[3:]]
    return [f"chr{name}"]


def resolve_chrom(name: str, available: Iterable[str]) -> str | None:
    """Return ``name`` or its first alias present in ``available``; None if neither is."""
    pool = set(available)
    if name in pool:
        return name
    return next((alias for alias in chrom_aliases(name) if alias in pool), None)


def open_fasta(path: str | os.PathLike[str]) -> pyfaidx.Fasta:
    """Open a plain or bgzipped FASTA with pyfaidx, building the ``.fai`` if missing.

    Raises InputError naming the file when it is missing, empty, not FASTA, or
    not indexable (for example gzip that is not BGZF).
    """
    fasta = Path(path)
    if not fasta.is_file():
        raise InputError(f"{fasta}: FASTA file not found")
    if fasta.stat().st_size == 0:
        raise InputError(f"{fasta}: FASTA file is empty")
    if not Path(f"{fasta}.fai").exists():
        log.info("%s: no .fai index, building one", fasta)
    try:
        # rebuild=True: an index older than its FASTA is rebuilt rather than trusted
        handle = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=False, rebuild=True)
    except pyfaidx.UnsupportedCompressionFormat as err:
        raise InputError(f"{fasta}: compressed FASTA must be bgzip-compressed (BGZF): {err}") from err
    except (pyfaidx.FastaIndexingError, ValueError, OSError) as err:
        raise InputError(f"{fasta}: cannot read or index FASTA: {err}") from err
    if len(handle.keys()) == 0:
        raise InputError(f"{fasta}: FASTA has no sequence records")
    return handle


def chrom_sizes(fasta: pyfaidx.Fasta) -> dict[str, int]:
    """Chromosome lengths in FASTA order."""
    return {name: len(record) for name, record in fasta.records.items()}


def fetch_codes(fasta: pyfaidx.Fasta, chrom: str, start: int, end: int) -> npt.NDArray[np.uint8]:
    """Base codes for ``chrom:start-end`` (0-based, half-open), shape (end - start,).

    Positions before 0 or past the chromosome end are filled with N (code 4).
    """
    size = len(fasta[chrom])
    out = np.full(end - start, N_CODE, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, size)
    if hi > lo:
        out[lo - start : hi - start] = encode(fasta[chrom][lo:hi])
    return out
