"""Merging per-chunk score files into one (``enformer-lite gather-variants``, :mod:`enformer_lite.cli.gather_variants`).

Parts are streamed in row blocks (:func:`~enformer_lite.variants.store.block_rows`), so memory
does not grow with the number of variants. A part of chunk ``k`` numbers its records from its
chunk's first record (:mod:`~enformer_lite.variants.chunks`); the gathered file numbers them as
the VCF does, adding the records covered by the chunks before (attribute ``n_records``).

With a background (:class:`~enformer_lite.interpret.calibrate.Background`), every score block is
also written as signed quantiles to ``/quantiles/<SCORE>`` as it is gathered.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import h5py
import numpy as np

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.variants.scores import GENE_SCORE_NAMES, SCORE_NAMES
from enformer_lite.variants.store import SHARED_ATTRS, ScoreWriter, file_tracks, iter_blocks, open_scores, read_table

if TYPE_CHECKING:
    from enformer_lite.interpret.calibrate import Background

log = logging.getLogger(__name__)

CHUNK_ATTRS = ("chunk", "n_chunks", "n_records", "chunk_regions")
"""Attributes of one chunk's part file; the gathered file is one chunk of one."""


def _first_record(handle: h5py.File) -> int:
    records = [handle[g]["record"][0] for g in ("alleles", "skipped") if handle[g]["record"].shape[0]]
    return int(min(records)) if records else -1


def _order(parts: Sequence[str | os.PathLike[str]], handles: list[h5py.File]) -> list[tuple[h5py.File, int]]:
    """(handle, record offset) in chunk order; InputError when chunks are missing, repeated or of other plans."""
    if not all("chunk" in h.attrs for h in handles):  # parts of an older layout carry the VCF's record numbers
        return [(h, 0) for h in sorted(handles, key=_first_record)]
    n_chunks = {int(h.attrs["n_chunks"]) for h in handles}
    chunks = sorted(int(h.attrs["chunk"]) for h in handles)
    if len(n_chunks) != 1 or chunks != list(range(n_chunks.pop())):
        found = ", ".join(f"{p}: chunk {h.attrs['chunk']} of {h.attrs['n_chunks']}" for p, h in zip(parts, handles))
        raise InputError(f"gather-variants: the parts must be chunks 0..n-1 of one run, each once ({found})")
    ordered, offset = [], 0
    for handle in sorted(handles, key=lambda h: int(h.attrs["chunk"])):
        ordered.append((handle, offset))
        offset += int(handle.attrs["n_records"])
    return ordered


def gather_parts(
    parts: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], background: Background | None = None
) -> None:
    """Concatenate part score files into ``out`` in chunk order, with the VCF's record numbers.

    The parts' :data:`~enformer_lite.variants.store.SHARED_ATTRS` must agree (InputError names
    the part that differs); gene rows are renumbered to the gathered allele rows. With
    ``background``, ``out`` also gets ``/quantiles`` (InputError naming both files when the
    background was scored otherwise than the parts).
    """
    if not parts:
        raise InputError("gather-variants: no part files given")
    handles = [open_scores(p) for p in parts]
    try:
        reference = handles[0]
        for path, handle in zip(parts, handles):
            for key in SHARED_ATTRS:
                if handle.attrs.get(key) != reference.attrs.get(key):
                    raise InputError(f"{path}: attribute {key!r} differs from {parts[0]}; parts come from different runs")
        ordered = _order(parts, handles)
        if background is not None:
            from enformer_lite.interpret.calibrate import QuantileWriter, scoring_meta

            background.check(scoring_meta(reference), parts[0])
        attrs = {k: v for k, v in reference.attrs.items() if k not in ("tracks", "gene_tracks", *CHUNK_ATTRS)}
        if "chunk" in reference.attrs:
            attrs.update(chunk=0, n_chunks=1, n_records=sum(int(h.attrs["n_records"]) for h in handles))
        gene_tracks = json.loads(reference.attrs["gene_tracks"])
        tracks = file_tracks(reference)
        with atomic_output(out) as tmp, ScoreWriter(tmp, tracks, gene_tracks, attrs) as writer:
            quantiles = QuantileWriter(writer.file, background, len(tracks)) if background is not None else None
            for handle, record_offset in ordered:
                allele_offset = writer.n_alleles
                for start, stop in iter_blocks(handle, "alleles"):
                    scores = np.stack([handle[f"scores/{s}"][start:stop] for s in SCORE_NAMES], axis=1)
                    table = read_table(handle["alleles"], start, stop)
                    table["record"] += record_offset
                    writer.add_alleles(table, scores)
                    if quantiles is not None:
                        quantiles.add({s: scores[:, SCORE_NAMES.index(s)] for s in background.names})
                for start, stop in iter_blocks(handle, "skipped"):
                    table = read_table(handle["skipped"], start, stop)
                    table["record"] += record_offset
                    writer.add_skips(table)
                for start, stop in iter_blocks(handle, "genes"):
                    genes = read_table(handle["genes"], start, stop)
                    genes["allele"] += allele_offset
                    values = np.stack([handle[f"gene_scores/{s}"][start:stop] for s in GENE_SCORE_NAMES], axis=1)
                    writer.add_genes(genes, values)
            log.info("gathered %d parts: %d scored alleles", len(handles), writer.n_alleles)
            if background is not None:
                log.info("calibrated against %d background alleles (%s)", background.size, background.source)
    finally:
        for handle in handles:
            handle.close()
