"""The ``enformer-lite ism`` step: open the model and the inputs, run ISM, write HDF5, bigWig and logo."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.errors import InputError
from enformer_lite.interpret.config import IsmConfig

log = logging.getLogger(__name__)


def top_variants(
    path: str | os.PathLike[str], n: int, tracks: npt.NDArray[np.intp] | None = None, score: str = "SAD"
) -> pd.DataFrame:
    """The ``n`` scored alleles of a variant score file with the largest max |``score``| over ``tracks``
    (all tracks when None): columns chrom, pos, id, ref, alt, score; ties keep file order."""
    from enformer_lite.variants.store import open_scores, read_table

    with open_scores(path) as handle:
        if f"scores/{score}" not in handle:
            raise InputError(f"{path}: no scores/{score} in the variant score file")
        alleles = read_table(handle["alleles"], columns=["chrom", "pos", "id", "ref", "alt"])
        values = handle[f"scores/{score}"][:]
    if values.size == 0 or n == 0:
        return alleles.assign(score=np.zeros(len(alleles))).iloc[:0]
    chosen = values if tracks is None else values[:, tracks]
    alleles["score"] = np.nanmax(np.abs(chosen), axis=1)
    return alleles.sort_values("score", ascending=False, kind="stable").head(n).reset_index(drop=True)


def ism_files(
    checkpoint: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    head: str | None,
    cfg: IsmConfig,
    out_h5: str | os.PathLike[str],
    out_bigwig: str | os.PathLike[str] | None = None,
    out_logos: Sequence[str | os.PathLike[str]] = (),
    genes_path: str | os.PathLike[str] | None = None,
    candidates_path: str | os.PathLike[str] | None = None,
    variants_path: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """ISM of every configured region; returns a summary (regions, bases, sequences run, seconds)."""
    from enformer_lite.contributions.runner import make_runner
    from enformer_lite.data.candidates import read_candidates_bed
    from enformer_lite.data.fasta import chrom_sizes, fetch_codes, open_fasta
    from enformer_lite.data.genes import read_genes
    from enformer_lite.inference.trained import open_model
    from enformer_lite.inference.tta import resolve_device
    from enformer_lite.interpret.ism import run_ism
    from enformer_lite.interpret.ism_io import (
        geometry_attrs,
        select_regions,
        summary_track_indices,
        write_bigwig,
        write_h5,
        write_logo,
    )

    started = time.perf_counter()
    trained = open_model(checkpoint, head, resolve_device(cfg.device), data)
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    summary = summary_track_indices(trained.tracks, cfg.tracks, "interpret.ism.tracks")
    genes = read_genes(genes_path, sizes) if genes_path else None
    elements = read_candidates_bed(candidates_path) if candidates_path else None
    variants = None
    if cfg.top_variants:
        if not variants_path:
            raise InputError("interpret.ism.top_variants: give the variant score file (--variants)")
        variants = top_variants(variants_path, cfg.top_variants, summary)
    regions = select_regions(cfg, sizes, genes, elements, variants)
    runner = make_runner(trained.model, trained.head, trained.geometry,
                         trained.geometry.centre_bins(cfg.readout_flank_bins), cfg.batch_size)
    results = run_ism(runner, lambda c, s, e: fetch_codes(fasta, c, s, e), regions)
    attrs = {"head": trained.head, "checkpoint": str(checkpoint),
             **geometry_attrs(trained.geometry, runner.tss_bins)}
    write_h5(out_h5, results, trained.tracks, summary, attrs)
    if out_bigwig:
        write_bigwig(out_bigwig, results, summary, sizes)
    if out_logos:
        write_logo(out_logos, results, summary, cfg.max_logos)
    info = {"regions": len(results), "bases": int(sum(r.region.length for r in results)),
            "sequences_run": runner.passes, "spliced": bool(getattr(runner, "verified", False)),
            "seconds": round(time.perf_counter() - started, 3)}
    log.info("ISM: %s", json.dumps(info))
    return info
