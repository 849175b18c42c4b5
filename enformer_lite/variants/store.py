"""The HDF5 file of variant scores (one chunk's part file and the gathered file share it).

Layout (N scored alleles, T tracks, K skipped alleles, M variant–gene pairs, Tg gene tracks)::

    /alleles/{record, alt_index, chrom, vcf_chrom, pos, id, ref, alt, flipped, window_start}   (N,)
    /scores/{SAD, LOG2R, D2, MAXD}          float32 (N, T)
    /skipped/{record, alt_index, chrom, pos, id, ref, alt, reason, detail}                    (K,)
    /genes/{allele, gene_id, strand, tss, distance, bin}                                       (M,)
    /gene_scores/{delta, log2fc}            float32 (M, Tg)

``record`` is the 0-based record index in the VCF and ``alt_index`` the ALT's index in the
record; ``pos`` is the 1-based VCF POS; ``ref``/``alt`` are as scored (reference first, see
``flipped``); ``genes/allele`` is a row of ``/alleles``; ``distance`` is the variant's 0-based
start relative to the TSS along the gene's direction of transcription (start − TSS on ``+``
and ``.``, TSS − start on ``−``): negative upstream, positive downstream. Attributes: ``tracks`` (JSON tracks table), ``gene_tracks`` (JSON
list of track indices of the gene scores), ``head``, ``window_length``, ``bin_size``,
``target_length``, ``grid``, ``settings`` (JSON scoring settings), ``vcf``, ``checkpoint``.
Rows are in VCF order (record, then ALT).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.atomic import h5_output
from enformer_lite.errors import InputError
from enformer_lite.data.tracks import TrackSpec, tracks_from_json, tracks_to_json
from enformer_lite.variants.alleles import Allele, Skip
from enformer_lite.variants.scores import GENE_SCORE_NAMES, SCORE_NAMES

_STR = h5py.string_dtype()
ALLELE_COLUMNS = {
    "record": np.int64, "alt_index": np.int32, "chrom": _STR, "vcf_chrom": _STR, "pos": np.int64, "id": _STR,
    "ref": _STR, "alt": _STR, "flipped": np.bool_, "window_start": np.int64,
}
SKIP_COLUMNS = {
    "record": np.int64, "alt_index": np.int32, "chrom": _STR, "pos": np.int64, "id": _STR, "ref": _STR, "alt": _STR,
    "reason": _STR, "detail": _STR,
}
GENE_COLUMNS = {"allele": np.int64, "gene_id": _STR, "strand": _STR, "tss": np.int64, "distance": np.int64, "bin": np.int32}
# Attributes that must agree between part files before they are gathered.
SHARED_ATTRS = ("tracks", "gene_tracks", "head", "window_length", "bin_size", "target_length", "grid", "settings")


def _create_table(group: h5py.Group, columns: Mapping[str, Any]) -> None:
    for name, dtype in columns.items():
        group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(4096,))


def _append(dataset: h5py.Dataset, values: npt.ArrayLike) -> None:
    values = np.asarray(values)
    if values.shape[0] == 0:
        return
    n = dataset.shape[0]
    dataset.resize(n + values.shape[0], axis=0)
    dataset[n:] = values


def read_table(group: h5py.Group, start: int = 0, stop: int | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Columns (all, or ``columns`` in that order) of a table group as a DataFrame (rows ``start:stop``); strings decoded."""
    out = {}
    for name in columns or list(group):
        dataset = group[name]
        out[name] = dataset.asstr()[start:stop] if h5py.check_string_dtype(dataset.dtype) else dataset[start:stop]
    return pd.DataFrame(out)


class ScoreWriter:
    """Appends blocks of results to a new score file (see the module docstring).

    Args:
        path: file to create (the caller renames it into place when complete).
        tracks: all tracks of the head, in prediction order.
        gene_tracks: indices of the tracks that get per-gene scores.
        attrs: further file attributes (head, window geometry, settings, ...).
    """

    def __init__(self, path: str | os.PathLike[str], tracks: Sequence[TrackSpec], gene_tracks: Sequence[int], attrs: Mapping[str, Any]) -> None:
        self.file = h5_output(path)
        self.file.attrs["tracks"] = tracks_to_json(list(tracks))
        self.file.attrs["gene_tracks"] = json.dumps([int(i) for i in gene_tracks])
        for key, value in attrs.items():
            self.file.attrs[key] = value
        _create_table(self.file.create_group("alleles"), ALLELE_COLUMNS)
        _create_table(self.file.create_group("skipped"), SKIP_COLUMNS)
        _create_table(self.file.create_group("genes"), GENE_COLUMNS)
        n_tracks, n_gene_tracks = len(tracks), len(gene_tracks)
        for group, names, width in (("scores", SCORE_NAMES, n_tracks), ("gene_scores", GENE_SCORE_NAMES, n_gene_tracks)):
            g = self.file.create_group(group)
            for name in names:
                if width == 0:  # no gene tracks: HDF5 cannot chunk a zero-width dataset, and no rows will come
                    g.create_dataset(name, shape=(0, 0), dtype=np.float32)
                else:
                    g.create_dataset(name, shape=(0, width), maxshape=(None, width), dtype=np.float32,
                                     chunks=(max(1, min(1024, 2**20 // width)), width))

    @property
    def n_alleles(self) -> int:
        return int(self.file["alleles/record"].shape[0])

    def add_alleles(self, columns: Mapping[str, npt.ArrayLike], scores: npt.NDArray[np.float32]) -> None:
        """Allele columns (N,) and their scores (N, 4, T)."""
        for name in ALLELE_COLUMNS:
            _append(self.file[f"alleles/{name}"], columns[name])
        for i, name in enumerate(SCORE_NAMES):
            _append(self.file[f"scores/{name}"], scores[:, i])

    def add_skips(self, columns: Mapping[str, npt.ArrayLike]) -> None:
        for name in SKIP_COLUMNS:
            _append(self.file[f"skipped/{name}"], columns[name])

    def add_genes(self, columns: Mapping[str, npt.ArrayLike], scores: npt.NDArray[np.float32]) -> None:
        """Variant–gene columns (M,) (``allele`` rows in this file) and their scores (M, 2, Tg)."""
        for name in GENE_COLUMNS:
            _append(self.file[f"genes/{name}"], columns[name])
        for i, name in enumerate(GENE_SCORE_NAMES):
            _append(self.file[f"gene_scores/{name}"], scores[:, i])

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> ScoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def allele_columns(alleles: Sequence[Allele], window_starts: Sequence[int]) -> dict[str, list[Any]]:
    """Allele objects → the ``/alleles`` columns."""
    cols: dict[str, list[Any]] = {name: [] for name in ALLELE_COLUMNS}
    for allele, window_start in zip(alleles, window_starts):
        for name in ALLELE_COLUMNS:
            cols[name].append(window_start if name == "window_start" else getattr(allele, name))
    return cols


def skip_columns(skips: Sequence[Skip]) -> dict[str, list[Any]]:
    """Skip objects → the ``/skipped`` columns."""
    return {name: [getattr(s, name) for s in skips] for name in SKIP_COLUMNS}


def open_scores(path: str | os.PathLike[str]) -> h5py.File:
    """Open a score file for reading; InputError names the file when it is not one."""
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"{path}: not a readable HDF5 score file: {err}") from err
    missing = [g for g in ("alleles", "scores", "skipped", "genes", "gene_scores") if g not in handle]
    if missing or "tracks" not in handle.attrs:
        handle.close()
        raise InputError(f"{path}: not a variant score file (missing {', '.join(missing) or 'tracks attribute'})")
    return handle


def file_tracks(handle: h5py.File) -> list[TrackSpec]:
    """Tracks table stored in a score file."""
    return tracks_from_json(handle.attrs["tracks"])


BLOCK_VALUES = 1 << 21
"""Score values (rows × tracks) read or written per block: bounds memory whatever the number of rows."""


def block_rows(handle: h5py.File, values: int | None = None) -> int:
    """Rows per block such that one block of every score matrix holds about ``values`` (default
    :data:`BLOCK_VALUES`) values, at most 65,536 rows."""
    width = max(1, handle["scores/SAD"].shape[1] if "scores/SAD" in handle else 1,
                handle["gene_scores/delta"].shape[1] if "gene_scores/delta" in handle else 1)
    return max(1, min(65536, (values or BLOCK_VALUES) // width))


def iter_blocks(handle: h5py.File, group: str, block: int | None = None) -> Iterator[tuple[int, int]]:
    """(start, stop) row ranges covering table ``group`` in blocks (of :func:`block_rows` rows by default)."""
    first = next(iter(handle[group].values()))
    n = first.shape[0]
    block = block or block_rows(handle)
    for start in range(0, n, block):
        yield start, min(n, start + block)
