"""Merging per-chunk score files into one (``enformer-lite gather-variants``, :mod:`enformer_lite.cli.gather_variants`)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

import h5py
import numpy as np

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.variants.scores import GENE_SCORE_NAMES, SCORE_NAMES
from enformer_lite.variants.store import SHARED_ATTRS, ScoreWriter, file_tracks, iter_blocks, open_scores, read_table

log = logging.getLogger(__name__)


def _first_record(handle: h5py.File) -> int:
    records = [handle[g]["record"][0] for g in ("alleles", "skipped") if handle[g]["record"].shape[0]]
    return int(min(records)) if records else -1


def gather_parts(parts: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> None:
    """Concatenate part score files into ``out``, parts ordered by their first VCF record.

    The parts' :data:`~enformer_lite.variants.store.SHARED_ATTRS` must agree (InputError names
    the part that differs); gene rows are renumbered to the gathered allele rows.
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
        handles.sort(key=_first_record)
        attrs = {k: v for k, v in reference.attrs.items() if k not in ("tracks", "gene_tracks")}
        gene_tracks = json.loads(reference.attrs["gene_tracks"])
        with atomic_output(out) as tmp, ScoreWriter(tmp, file_tracks(reference), gene_tracks, attrs) as writer:
            for handle in handles:
                offset = writer.n_alleles
                for start, stop in iter_blocks(handle, "alleles"):
                    scores = np.stack([handle[f"scores/{s}"][start:stop] for s in SCORE_NAMES], axis=1)
                    writer.add_alleles(read_table(handle["alleles"], start, stop), scores)
                for start, stop in iter_blocks(handle, "skipped"):
                    writer.add_skips(read_table(handle["skipped"], start, stop))
                for start, stop in iter_blocks(handle, "genes"):
                    genes = read_table(handle["genes"], start, stop)
                    genes["allele"] += offset
                    values = np.stack([handle[f"gene_scores/{s}"][start:stop] for s in GENE_SCORE_NAMES], axis=1)
                    writer.add_genes(genes, values)
            log.info("gathered %d parts: %d scored alleles", len(handles), writer.n_alleles)
    finally:
        for handle in handles:
            handle.close()
