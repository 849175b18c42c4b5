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
from enformer_lite.data.sequence import N_CODE, count_ambiguous, encode

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
    open(fasta, "rb").close()  # unreadable: an OSError naming the file ("Permission denied"), which pyfaidx hides
    if not Path(f"{fasta}.fai").exists():
        log.info("%s: no .fai index, building one", fasta)
    try:
        # rebuild=True: an index older than its FASTA is rebuilt rather than trusted
        handle = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=False, rebuild=True)
    except pyfaidx.UnsupportedCompressionFormat as err:
        raise InputError(f"{fasta}: compressed FASTA must be bgzip-compressed (BGZF): {err}") from err
    except (pyfaidx.FastaIndexingError, ValueError, OSError) as err:
        detail = f"duplicate record name {str(err).split('Duplicate key', 1)[1].strip()}" if "Duplicate key" in str(err) else err
        raise InputError(f"{fasta}: cannot read or index FASTA: {detail}") from err
    if len(handle.keys()) == 0:
        raise InputError(f"{fasta}: FASTA has no sequence records")
    _check_index(fasta, handle)
    return handle


def _check_index(fasta: Path, handle: pyfaidx.Fasta) -> None:
    """InputError when the ``.fai`` does not describe this (plain) FASTA, e.g. copied from another file.

    Each record's offset must follow its own ``>name`` header line and its bases must end inside
    the file. bgzip FASTA is addressed through its ``.gzi`` and is not checked here.
    """
    if handle.faidx._bgzf:  # noqa: SLF001 - pyfaidx exposes no public flag for BGZF input
        return
    size = fasta.stat().st_size
    with open(fasta, "rb") as raw:
        for name, entry in handle.faidx.index.items():
            lines = -(-entry.rlen // entry.lenc) if entry.lenc else 0
            end = entry.offset + entry.rlen + max(lines - 1, 0) * (entry.lenb - entry.lenc)
            raw.seek(max(entry.offset - 1024, 0))
            before = raw.read(min(entry.offset, 1024)).rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
            header = before.decode("ascii", "replace")
            if end > size or not header.startswith(">") or header[1:].split()[0:1] != [name]:
                raise InputError(
                    f"{fasta}.fai: the index does not match {fasta} at record {name!r} (made for another FASTA, "
                    f"or the FASTA changed); delete {fasta}.fai and it is rebuilt"
                )


def chrom_sizes(fasta: pyfaidx.Fasta) -> dict[str, int]:
    """Chromosome lengths in FASTA order."""
    return {name: len(record) for name, record in fasta.records.items()}


def fetch_codes(fasta: pyfaidx.Fasta, chrom: str, start: int, end: int) -> npt.NDArray[np.uint8]:
    """Base codes for ``chrom:start-end`` (0-based, half-open), shape (end - start,).

    Positions before 0 or past the chromosome end are filled with N (code 4).
    """
    return fetch_codes_counted(fasta, chrom, start, end)[0]


def fetch_codes_counted(fasta: pyfaidx.Fasta, chrom: str, start: int, end: int) -> tuple[npt.NDArray[np.uint8], int]:
    """:func:`fetch_codes` and the number of IUPAC ambiguity codes among the bases read (stored as N)."""
    size = len(fasta[chrom])
    out = np.full(end - start, N_CODE, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, size)
    ambiguous = 0
    if hi > lo:
        text = fasta[chrom][lo:hi]
        out[lo - start : hi - start] = encode(text)
        ambiguous = count_ambiguous(text)
    return out, ambiguous
