"""FASTA + bigWig → HDF5 training data, one chromosome at a time, then merged.

The file layout is the contract in :mod:`enformer_lite.data.h5`.
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

from enformer_lite.atomic import atomic_output
from enformer_lite.data.bigwig import open_bigwig, pooled_chromosome
from enformer_lite.data.blacklist import Blacklist
from enformer_lite.errors import InputError
from enformer_lite.data.fasta import fetch_codes_counted, open_fasta
from enformer_lite.data.h5 import create_datasets, window_records, write_attrs
from enformer_lite.data.target_mask import valid_bins
from enformer_lite.data.tracks import FLOAT16_MAX, TrackSpec, tracks_from_json
from enformer_lite.data.windows import Window, WindowSpec

log = logging.getLogger(__name__)

WRITE_BLOCK = 64  # sequence rows written per HDF5 call (bounds memory to ~13 MB at 196 kb)


def _window_targets(
    pooled: np.ndarray, window: Window, spec: WindowSpec
) -> np.ndarray:
    """Central target bins of one window from a chromosome's pooled bins, zero past the end. Shape (target_length,)."""
    first = window.start // spec.bin_size + spec.geometry.crop
    out = np.zeros(spec.target_length, dtype=np.float32)
    part = pooled[first : first + spec.target_length]
    out[: len(part)] = part
    return out


def extract_chromosome(
    fasta_path: str,
    tracks: Sequence[TrackSpec],
    windows: Sequence[Window],
    chrom: str,
    spec: WindowSpec,
    genome: str,
    out_path: str | os.PathLike[str],
    blacklist: Blacklist | None = None,
) -> int:
    """Write the windows of ``chrom`` to an HDF5 part file; returns the number of rows.

    Each track's chromosome is read once (in chunks) and pooled; windows then
    slice the pooled bins, so overlapping windows cost no extra bigWig reads.
    Target bins that are mostly N, past the chromosome end or touched by ``blacklist``
    get 0 in ``target_mask``.
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
    targets = np.zeros((len(rows), spec.target_length, len(tracks)), dtype=np.float32)
    empty = []
    for t, track in enumerate(tracks):
        bw = open_bigwig(track.file)
        try:
            pooled = track.transform(pooled_chromosome(bw, track, chrom, size, spec.bin_size))
        finally:
            bw.close()
        if not np.isfinite(pooled).all() or np.abs(pooled).max(initial=0) > FLOAT16_MAX:
            raise InputError(
                f"{track.file}: track {track.id!r} on {chrom} exceeds the float16 range after transform "
                f"(max {np.abs(pooled).max():.4g}); lower its scale or set clip_soft/clip in the tracks table"
            )
        if not pooled.any():
            empty.append(track.id)
        for r, w in enumerate(rows):
            targets[r, :, t] = _window_targets(pooled, w, spec)
    if empty:
        log.warning("%s: %d of %d track(s) have no signal (all 0 or NaN) on the whole chromosome: %s", chrom,
                    len(empty), len(tracks), ", ".join(empty[:10]) + (", ..." if len(empty) > 10 else ""))
    codes, ambiguous = fetch_codes_counted(fasta, chrom, 0, rows[-1].end) if rows else (np.empty(0, np.uint8), 0)
    if ambiguous:
        log.warning("%s: %s has %d IUPAC ambiguity code(s) (R, Y, ...); read as N", fasta_path, chrom, ambiguous)
    valid = valid_bins(codes, chrom, spec.bin_size, blacklist)
    first_bins = [w.start // spec.bin_size + spec.geometry.crop for w in rows]
    mask = np.stack([valid[f : f + spec.target_length] for f in first_bins]) if rows else np.zeros((0, spec.target_length), bool)
    if rows and not mask.all():
        log.info("%s: %d of %d target bins masked (mostly N, past the chromosome end%s)", chrom,
                 int(mask.size - mask.sum()), mask.size, " or blacklisted" if blacklist is not None else "")
    with atomic_output(out_path) as tmp, h5py.File(tmp, "w") as h5:
        create_datasets(h5, len(rows), spec.geometry, len(tracks))
        for lo in range(0, len(rows), WRITE_BLOCK):
            block = rows[lo : lo + WRITE_BLOCK]
            h5["sequence"][lo : lo + len(block)] = np.stack([codes[w.start : w.end] for w in block])
        h5["targets"][...] = targets.astype(np.float16)
        h5["target_mask"][...] = mask.astype(np.uint8)
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
    with atomic_output(out_path) as tmp, h5py.File(tmp, "w") as out:
        create_datasets(out, total, spec.geometry, len(tracks))
        records = []
        row = 0
        for part, n in zip(part_paths, sizes):
            with h5py.File(part, "r") as h5:
                # identical chunking and filters: copy compressed chunks without re-encoding them
                for r in range(n):
                    mask, chunk = h5["sequence"].id.read_direct_chunk((r, 0))
                    out["sequence"].id.write_direct_chunk((row + r, 0), chunk, mask)
                out["targets"][row : row + n] = h5["targets"][...]
                out["target_mask"][row : row + n] = h5["target_mask"][...] if "target_mask" in h5 else 1
                records.append(h5["windows"][...])
            row += n
        out.create_dataset("windows", data=np.concatenate(records), track_times=False)
        write_attrs(out, str(attrs["genome"]), spec.geometry, tracks, fingerprint)
    return total
