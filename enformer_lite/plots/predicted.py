"""Predicted signal over any region, from a training checkpoint and the reference FASTA.

Everything needed besides the FASTA is in the checkpoint: the network, the window
geometry and the tracks table with its transforms (saved by ``enformer-lite
train``). Values are returned on the bigWig scale (mean per bp in each bin),
the same scale as :func:`enformer_lite.plots.readers.observed_signal`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from enformer_lite.data.fasta import chrom_sizes, open_fasta, resolve_chrom
from enformer_lite.data.regions import Region
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.errors import InputError
from enformer_lite.inference.checkpoint import ModelBuilder
from enformer_lite.inference.predict_tracks import PredictConfig, predict_region
from enformer_lite.inference.signal import untransform
from enformer_lite.inference.trained import open_model
from enformer_lite.plots.readers import on_bins


@dataclass(frozen=True)
class Prediction:
    """Predicted tracks over ``region`` (on the bin grid): ``values`` (bins, T) in bigWig units per bp."""

    region: Region
    bin_size: int
    tracks: tuple[TrackSpec, ...]
    values: npt.NDArray[np.float32]


def predict_signal(
    checkpoint: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    region: Region,
    head: str | None = None,
    cfg: PredictConfig | None = None,
    builder: ModelBuilder | None = None,
) -> Prediction:
    """Run the checkpoint's model over ``region`` (widened to whole bins, clipped to the chromosome).

    Windows are tiled so that their central target bins cover the region; sequence
    beyond the chromosome ends is N. Test-time averaging and device come from ``cfg``.
    """
    cfg = cfg or PredictConfig()
    trained = open_model(checkpoint, head, cfg.device, builder=builder)
    bin_size = trained.geometry.bin_size
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    chrom = resolve_chrom(region.chrom, sizes)
    if chrom is None:
        raise InputError(f"{fasta_path}: region {region}: chromosome {region.chrom!r} is not in the FASTA")
    if region.start >= sizes[chrom]:
        raise InputError(f"region {region}: starts past the end of {chrom} ({sizes[chrom]:,} bp)")
    aligned = on_bins(Region(chrom, region.start, min(region.end, sizes[chrom])), bin_size)
    values = predict_region(trained, fasta, aligned, cfg)
    per_bp = untransform(values, trained.tracks, "per_base", bin_size)
    return Prediction(aligned, bin_size, trained.tracks, per_bp)
