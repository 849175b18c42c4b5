"""bigWig signal pooled into bins (pyBigWig)."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyBigWig

from enformer_lite.errors import InputError
from enformer_lite.data.fasta import resolve_chrom
from enformer_lite.data.tracks import TrackSpec

log = logging.getLogger(__name__)

CHUNK_BP = 8 * 1024 * 1024  # read this many bases per pyBigWig call to bound memory
BIGWIG_MAGIC = 0x888FFC26


def open_bigwig(path: str) -> "pyBigWig.pyBigWig":
    """Open a bigWig for reading; InputError names the file if it is absent, invalid or empty."""
    if not Path(path).is_file():
        raise InputError(f"{path}: bigWig file not found")
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError as err:
        raise InputError(f"{path}: not a readable bigWig file") from err
    if bw is None or not bw.isBigWig():
        raise InputError(f"{path}: not a bigWig file")
    if not bw.chroms() or bases_covered(path) == 0:
        bw.close()
        raise InputError(f"{path}: bigWig file is empty (no chromosomes or no data)")
    return bw


def bases_covered(path: str) -> int:
    """Bases with data, from the bigWig's total summary (0 when the file has none).

    Read with ``struct`` from the file header rather than with ``pyBigWig.header()``, which
    crashes the process (segmentation fault, pyBigWig 0.3.x) on files whose values include NaN,
    as some writers produce for "no data". Layout (UCSC bigWig spec): the 64-byte header holds
    ``totalSummaryOffset`` at byte 44; the summary starts with ``basesCovered`` (uint64).
    """
    with open(path, "rb") as handle:
        header = handle.read(64)
        if len(header) < 64:
            return 0
        order = "<" if struct.unpack("<I", header[:4])[0] == BIGWIG_MAGIC else ">"
        (summary_offset,) = struct.unpack(f"{order}Q", header[44:52])
        if summary_offset == 0:
            return 0
        handle.seek(summary_offset)
        raw = handle.read(8)
    return struct.unpack(f"{order}Q", raw)[0] if len(raw) == 8 else 0


def bigwig_chrom(bw: "pyBigWig.pyBigWig", track: TrackSpec, chrom: str, chrom_size: int) -> str | None:
    """The bigWig's name for FASTA chromosome ``chrom``, or None when it lacks it and ``missing_chrom`` is ``zero``.

    InputError when the chromosome is missing (and ``missing_chrom`` is ``error``) or its length differs
    from the FASTA's; a ``chr1``/``1`` spelling difference is resolved. Cheap (header only), so
    extraction checks every track with it before reading any.
    """
    name = resolve_chrom(chrom, bw.chroms())
    if name is None:
        if track.missing_chrom == "zero":
            return None
        shown = ", ".join(list(bw.chroms())[:8])
        raise InputError(
            f"{track.file}: track {track.id!r} has no chromosome {chrom!r} (nor an alias) that the FASTA has; "
            f"bigWig chromosomes: {shown}. Set missing_chrom=zero in the tracks table to use zeros."
        )
    bw_size = bw.chroms(name)
    if bw_size != chrom_size:
        raise InputError(
            f"{track.file}: chromosome {name!r} is {bw_size} bp in the bigWig but {chrom_size} bp in the FASTA "
            "(different genome assemblies?)"
        )
    return name


def pooled_chromosome(
    bw: "pyBigWig.pyBigWig", track: TrackSpec, chrom: str, chrom_size: int, bin_size: int
) -> npt.NDArray[np.float32]:
    """Per-bin sum or mean of a track's per-base values over a whole chromosome.

    Returns shape (ceil(chrom_size / bin_size),), float32, untransformed. NaN
    (no data) counts as 0; the last partial bin is padded with zeros. A
    chromosome missing from the bigWig is an error unless ``track.missing_chrom``
    is ``zero``; a ``chr1``/``1`` spelling difference is resolved and logged.
    The chromosome is read once, in :data:`CHUNK_BP` pieces (memory: ~5 bytes per
    base of one piece plus 12 bytes per bin).
    """
    n_bins = -(-chrom_size // bin_size)
    name = bigwig_chrom(bw, track, chrom, chrom_size)
    if name is None:
        log.warning("%s: no chromosome %s, track %s set to 0 there (missing_chrom=zero)", track.file, chrom, track.id)
        return np.zeros(n_bins, dtype=np.float32)
    if name != chrom:
        log.info("%s: using bigWig chromosome %s for FASTA chromosome %s", track.file, name, chrom)
    out = np.zeros(n_bins, dtype=np.float64)
    step = CHUNK_BP - CHUNK_BP % bin_size
    for start in range(0, chrom_size, step):
        end = min(start + step, chrom_size)
        values = np.asarray(bw.values(name, start, end, numpy=True), dtype=np.float32)
        pad = -len(values) % bin_size
        if pad:
            values = np.concatenate([values, np.zeros(pad, dtype=np.float32)])
        per_bin = values.reshape(-1, bin_size)
        pooled = per_bin.sum(axis=1, dtype=np.float64)
        gaps = np.isnan(pooled)  # bins with a base without data (NaN): sum them again with NaN as 0
        if gaps.any():
            pooled[gaps] = np.nansum(per_bin[gaps], axis=1, dtype=np.float64)
        if not np.isfinite(pooled).all():  # an infinite value makes its bin's sum inf (or NaN for inf - inf)
            pos = start + int(np.flatnonzero(np.isinf(values))[0])
            raise InputError(f"{track.file}: infinite value at {name}:{pos + 1}")
        out[start // bin_size : start // bin_size + len(pooled)] = pooled
    if track.sum_stat == "mean":
        out /= bin_size
    return out.astype(np.float32)
