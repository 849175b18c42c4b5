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

from enformer_lite.errors import InputError
from enformer_lite.genome import chrom_sizes, open_fasta, resolve_chrom
from enformer_lite.plots.readers import on_bins
from enformer_lite.tracks import TrackSpec
from enformer_lite.training.dataset import H5Meta
from enformer_lite.training.inference import resolve_device
from enformer_lite.training.module import ModelBuilder, load_model
from enformer_lite.training.predict import PredictConfig, Region, predict_region, untransform


@dataclass(frozen=True)
class Prediction:
    """Predicted tracks over ``region`` (on the bin grid): ``values`` (bins, T) in bigWig units per bp."""

    region: Region
    bin_size: int
    tracks: tuple[TrackSpec, ...]
    values: npt.NDArray[np.float32]


def checkpoint_meta(ckpt_meta: dict, head: str | None, checkpoint: str | os.PathLike[str]) -> H5Meta:
    """The data description of one head stored in a checkpoint, as an :class:`H5Meta` without a file."""
    data_meta = ckpt_meta.get("data_meta") or {}
    if not data_meta:
        raise InputError(f"{checkpoint}: checkpoint holds no data description (data_meta); was it made by enformer-lite train?")
    if head is None:
        if len(data_meta) > 1:
            raise InputError(f"{checkpoint}: model has heads {', '.join(data_meta)}; choose one with --head")
        head = next(iter(data_meta))
    if head not in data_meta:
        raise InputError(f"{checkpoint}: model has no head {head!r} (heads: {', '.join(data_meta)})")
    info = data_meta[head]
    tracks = tuple(TrackSpec(**{k: v for k, v in t.items() if k in TrackSpec.__dataclass_fields__}) for t in info["tracks"])
    return H5Meta(
        path=str(checkpoint), genome=head, window_length=int(info["window_length"]), bin_size=int(info["bin_size"]),
        target_length=int(info["target_length"]), tracks=tracks, fingerprint=str(info.get("fingerprint", "")),
        n_windows=0,
    )


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
    device = resolve_device(cfg.device)
    model, ckpt_meta = load_model(checkpoint, map_location=device, builder=builder)
    meta = checkpoint_meta(ckpt_meta, head, checkpoint)
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    chrom = resolve_chrom(region.chrom, sizes)
    if chrom is None:
        raise InputError(f"{fasta_path}: region {region}: chromosome {region.chrom!r} is not in the FASTA")
    if region.start >= sizes[chrom]:
        raise InputError(f"region {region}: starts past the end of {chrom} ({sizes[chrom]:,} bp)")
    aligned = on_bins(Region(chrom, region.start, min(region.end, sizes[chrom])), meta.bin_size)
    values = predict_region(model, fasta, aligned, meta, meta.genome, cfg, device)
    per_bp = np.stack([untransform(values[:, t.index], t, meta.bin_size) for t in meta.tracks], axis=1)
    return Prediction(aligned, meta.bin_size, meta.tracks, per_bp.astype(np.float32))
