"""FASTA + bigWig → HDF5 training data, one chromosome at a time, then merged.

The file layout is the contract in :mod:`enformer_lite.data.h5`. Memory is bounded by the
chromosome's length, not by its length times the track count: tracks are read and written in
groups of :data:`~enformer_lite.data.h5.TRACK_CHUNK` (one ``targets`` chunk column each), the
sequence in blocks of :data:`WRITE_BLOCK` windows, and merging copies chunk by chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import numpy.typing as npt
import pyfaidx

from enformer_lite.atomic import atomic_output, h5_output
from enformer_lite.data.bigwig import bigwig_chrom, open_bigwig, pooled_chromosome
from enformer_lite.data.blacklist import Blacklist
from enformer_lite.errors import InputError
from enformer_lite.data.fasta import fetch_codes_counted, open_fasta
from enformer_lite.data.h5 import TRACK_CHUNK, create_datasets, window_records, write_attrs
from enformer_lite.data.target_mask import MAX_N_SHARE, n_counts_per_bin
from enformer_lite.data.tracks import FLOAT16_MAX, TrackSpec, tracks_from_json
from enformer_lite.data.windows import Window, WindowSpec

log = logging.getLogger(__name__)

WRITE_BLOCK = 64
"""Windows per HDF5 write: a sequence block is ~13 MB at 196 kb, a targets block 14 MB at 128 tracks."""
COPY_BYTES = 64 << 20
"""Most bytes of one dataset that :func:`merge_parts` holds at once when it cannot copy raw chunks."""


def _pooled_track(track: TrackSpec, chrom: str, size: int, bin_size: int) -> npt.NDArray[np.float32]:
    """One track's transformed bins over the whole chromosome (one read), shape (ceil(size / bin_size),).

    InputError naming the track when a value leaves the float16 range after the transform.
    """
    bw = open_bigwig(track.file)
    try:
        pooled = track.transform(pooled_chromosome(bw, track, chrom, size, bin_size))
    finally:
        bw.close()
    if not np.isfinite(pooled).all() or np.abs(pooled).max(initial=0) > FLOAT16_MAX:
        raise InputError(
            f"{track.file}: track {track.id!r} on {chrom} exceeds the float16 range after transform "
            f"(max {np.abs(pooled).max():.4g}); lower its scale or set clip_soft/clip in the tracks table"
        )
    return pooled


def _check_tracks(tracks: Sequence[TrackSpec], chrom: str, size: int) -> None:
    """Open every bigWig and check it has ``chrom`` at ``size`` bp (headers only), before any is read."""
    for track in tracks:
        bw = open_bigwig(track.file)
        try:
            bigwig_chrom(bw, track, chrom, size)
        finally:
            bw.close()


def write_targets(
    dataset: h5py.Dataset,
    tracks: Sequence[TrackSpec],
    first_bins: npt.NDArray[np.int64],
    chrom: str,
    size: int,
    spec: WindowSpec,
    group: int = TRACK_CHUNK,
) -> list[str]:
    """Fill ``dataset`` (R, target_length, T): targets of the windows whose central bins start at ``first_bins`` (R,).

    Each track's chromosome is read once and pooled; ``group`` tracks at a time are kept, as
    float16 bins (n_bins, group), and written in blocks of :data:`WRITE_BLOCK` windows,
    (block, target_length, group) each; bins past the chromosome end are 0. Peak memory is
    ~2 bytes × n_bins × group, whatever T. Returns the ids of tracks with no signal on ``chrom``.
    """
    n_bins = -(-size // spec.bin_size)
    if len(first_bins):
        n_bins = max(n_bins, int(first_bins.max()) + spec.target_length)
    offsets = np.arange(spec.target_length)
    empty = []
    for lo_track in range(0, len(tracks), group):
        members = tracks[lo_track : lo_track + group]
        bins = np.zeros((n_bins, len(members)), dtype=np.float16)
        for j, track in enumerate(members):
            pooled = _pooled_track(track, chrom, size, spec.bin_size)
            if not pooled.any():
                empty.append(track.id)
            bins[: len(pooled), j] = pooled
            del pooled
        columns = slice(lo_track, lo_track + len(members))
        for lo in range(0, len(first_bins), WRITE_BLOCK):
            index = first_bins[lo : lo + WRITE_BLOCK, None] + offsets
            dataset[lo : lo + len(index), :, columns] = bins[index]
        del bins
    return empty


def _valid_bins(
    codes: npt.NDArray[np.uint8], chrom: str, first_bin: int, bin_size: int, blacklist: Blacklist | None
) -> npt.NDArray[np.bool_]:
    """Which bins of codes (L,) from bin ``first_bin`` on count (as in :mod:`~enformer_lite.data.target_mask`).

    Shape (L // bin_size,); L is a multiple of ``bin_size``.
    """
    valid = n_counts_per_bin(codes, bin_size) <= MAX_N_SHARE * bin_size
    if blacklist is not None:
        valid &= ~blacklist.bins(chrom, first_bin, len(valid), bin_size)
    return valid


def write_sequence(
    h5: h5py.File, fasta: pyfaidx.Fasta, rows: Sequence[Window], spec: WindowSpec, blacklist: Blacklist | None
) -> tuple[int, int]:
    """Fill ``sequence`` (R, L) and ``target_mask`` (R, target_length) in blocks of :data:`WRITE_BLOCK` windows.

    Each block reads the bases from its first window's start to its last window's end; bases
    already read for the previous block are kept, not read again, so with windows in order
    every base is read (and its IUPAC codes counted) once. Returns (masked bins, ambiguity codes).
    """
    kept = np.empty(0, dtype=np.uint8)
    kept_start = kept_end = 0
    masked = ambiguous = 0
    chrom = rows[0].chrom if rows else ""
    for lo in range(0, len(rows), WRITE_BLOCK):
        block = rows[lo : lo + WRITE_BLOCK]
        start, end = min(w.start for w in block), max(w.end for w in block)
        if kept_start <= start <= kept_end and end >= kept_end:
            new, count = fetch_codes_counted(fasta, chrom, kept_end, end)
            codes = np.concatenate([kept[start - kept_start :], new])
        else:  # after a gap between windows, or windows out of order: read the whole span
            codes, count = fetch_codes_counted(fasta, chrom, start, end)
        ambiguous += count
        kept, kept_start, kept_end = codes, start, end
        valid = _valid_bins(codes, chrom, start // spec.bin_size, spec.bin_size, blacklist)
        first = [(w.start - start) // spec.bin_size + spec.geometry.crop for w in block]
        mask = np.stack([valid[f : f + spec.target_length] for f in first])
        masked += int(mask.size - mask.sum())
        h5["sequence"][lo : lo + len(block)] = np.stack([codes[w.start - start : w.end - start] for w in block])
        h5["target_mask"][lo : lo + len(block)] = mask.astype(np.uint8)
    return masked, ambiguous


def extract_chromosome(
    fasta_path: str,
    tracks: Sequence[TrackSpec],
    windows: Sequence[Window],
    chrom: str,
    spec: WindowSpec,
    genome: str,
    out_path: str | os.PathLike[str],
    blacklist: Blacklist | None = None,
    track_group: int = TRACK_CHUNK,
) -> int:
    """Write the windows of ``chrom`` to an HDF5 part file; returns the number of rows.

    Each track's chromosome is read once (in chunks) and pooled; windows then
    slice the pooled bins, so overlapping windows cost no extra bigWig reads.
    ``track_group`` tracks are held at once (see :func:`write_targets`); the output does
    not depend on it. Target bins that are mostly N, past the chromosome end or touched
    by ``blacklist`` get 0 in ``target_mask``.
    """
    fasta = open_fasta(fasta_path)
    if chrom not in fasta.keys():
        raise InputError(f"{fasta_path}: no chromosome {chrom!r}")
    rows = [w for w in windows if w.chrom == chrom]
    for w in rows:
        if w.start % spec.bin_size or w.end - w.start != spec.length:
            raise InputError(f"window {w.chrom}:{w.start}-{w.end}: not {spec.length} bp starting on a {spec.bin_size}-bp bin")
    size = len(fasta[chrom])
    if rows and rows[0].start >= size:
        raise InputError(f"window {chrom}:{rows[0].start}-{rows[0].end} starts past the chromosome end ({size} bp)")
    if track_group < 1:
        raise ValueError(f"track_group must be at least 1, got {track_group}")
    _check_tracks(tracks, chrom, size)
    first_bins = np.array([w.start // spec.bin_size + spec.geometry.crop for w in rows], dtype=np.int64)
    with atomic_output(out_path) as tmp, h5_output(tmp) as h5:
        create_datasets(h5, len(rows), spec.geometry, len(tracks))
        masked, ambiguous = write_sequence(h5, fasta, rows, spec, blacklist)
        if ambiguous:
            log.warning("%s: %s has %d IUPAC ambiguity code(s) (R, Y, ...); read as N", fasta_path, chrom, ambiguous)
        if masked:
            log.info("%s: %d of %d target bins masked (mostly N, past the chromosome end%s)", chrom, masked,
                     len(rows) * spec.target_length, " or blacklisted" if blacklist is not None else "")
        empty = write_targets(h5["targets"], tracks, first_bins, chrom, size, spec, track_group)
        if empty:
            log.warning("%s: %d of %d track(s) have no signal (all 0 or NaN) on the whole chromosome: %s", chrom,
                        len(empty), len(tracks), ", ".join(empty[:10]) + (", ..." if len(empty) > 10 else ""))
        h5.create_dataset("windows", data=window_records(rows), track_times=False)
        write_attrs(h5, genome, spec.geometry, tracks, fingerprint="")
    log.info("%s: %d windows, %d tracks written to %s", chrom, len(rows), len(tracks), out_path)
    return len(rows)


def input_fingerprint(paths: Sequence[str], params: dict[str, object]) -> str:
    """SHA-256 over each input's name, size and first/last MiB, plus the parameters.

    A cheap identity for the inputs of a dataset: it changes whenever a file is
    replaced by a different one, without reading whole genomes and tracks.
    """
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for path in paths:
        size = os.path.getsize(path)
        digest.update(f"{Path(path).name}\t{size}\n".encode())
        with open(path, "rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(size - (1 << 20), 0))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def merge_parts(part_paths: Sequence[str], out_path: str | os.PathLike[str], fasta_path: str) -> int:
    """Concatenate per-chromosome parts (in the given order) into one dataset; returns rows."""
    if not part_paths:
        raise InputError(f"{out_path}: no per-chromosome parts to merge (no windows kept?)")
    with h5py.File(part_paths[0], "r") as first:
        attrs = dict(first.attrs)
    spec = WindowSpec(
        length=int(attrs["window_length"]),
        bin_size=int(attrs["bin_size"]),
        target_length=int(attrs["target_length"]),
        stride=int(attrs["bin_size"]),
    )
    tracks = tracks_from_json(str(attrs["tracks"]))
    sizes = []
    for part in part_paths:
        with h5py.File(part, "r") as h5:
            if h5.attrs["tracks"] != attrs["tracks"] or h5.attrs["window_length"] != attrs["window_length"]:
                raise InputError(f"{part}: tracks or window geometry differ from {part_paths[0]}")
            sizes.append(h5["sequence"].shape[0])
    total = sum(sizes)
    if total == 0:
        raise InputError(f"{out_path}: all parts are empty (every window was dropped)")
    fingerprint = input_fingerprint(
        [fasta_path] + [t.file for t in tracks],
        {"window_length": spec.length, "bin_size": spec.bin_size, "target_length": spec.target_length},
    )
    with atomic_output(out_path) as tmp, h5_output(tmp) as out:
        create_datasets(out, total, spec.geometry, len(tracks))
        records = []
        row = 0
        for part, n in zip(part_paths, sizes):
            with h5py.File(part, "r") as h5:
                for name in ("sequence", "targets", "target_mask"):
                    if name in h5:
                        copy_rows(h5[name], out[name], row)
                    else:  # a part written before target_mask existed: every bin counts
                        for lo in range(0, n, WRITE_BLOCK):
                            out[name][row + lo : row + min(lo + WRITE_BLOCK, n)] = 1
                records.append(h5["windows"][...])
            row += n
        out.create_dataset("windows", data=np.concatenate(records), track_times=False)
        write_attrs(out, str(attrs["genome"]), spec.geometry, tracks, fingerprint)
    return total


def copy_rows(source: h5py.Dataset, target: h5py.Dataset, row: int) -> None:
    """Copy all rows of ``source`` (n, ...) into ``target`` from ``row`` on, in bounded memory.

    With identical chunk shapes and filters (parts and merged file both come from
    :func:`~enformer_lite.data.h5.create_datasets`) the stored chunks are copied as they are,
    without decoding; otherwise in row blocks of at most :data:`COPY_BYTES`.
    """
    n = source.shape[0]
    if source.chunks == target.chunks and source.compression == target.compression and source.chunks[0] == 1:
        starts = [range(0, extent, chunk) for extent, chunk in zip(source.shape[1:], source.chunks[1:])]
        for offset in np.ndindex(*(len(r) for r in starts)):
            inner = tuple(r[i] for r, i in zip(starts, offset))
            for r in range(n):
                mask, chunk = source.id.read_direct_chunk((r, *inner))
                target.id.write_direct_chunk((row + r, *inner), chunk, mask)
        return
    row_bytes = max(int(np.prod(source.shape[1:])) * source.dtype.itemsize, 1)
    step = max(1, COPY_BYTES // row_bytes)
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        target[row + lo : row + hi] = source[lo:hi]
