"""``enformer-lite predict``: predicted tracks as bigWig files for chosen regions.

Output: a directory with one bigWig per track, ``<track id>.bw``, plus
``regions.bed`` listing the predicted intervals. The bigWig header holds every
chromosome of the FASTA with its size, so the files open in any genome browser
next to the observed tracks.

Values are on the original scale of the input bigWigs: the training transform of
the tracks table is inverted (divide by ``scale``, then undo the soft clip:
``x > c → c + (x − c)²``; a hard ``clip`` cannot be undone). For ``sum_stat:
sum`` tracks the bin sum is then divided by ``bin_size`` so that every base of
the bin carries the per-base mean, comparable with the input bigWig; ``mean``
tracks are already per-base means. Each entry spans one bin (``bin_size`` bp).

Regions are ``chrom:start-end``, 0-based and half-open as in BED (commas
allowed). They are widened to whole bins and tiled with windows whose central
target bins cover them; sequence beyond the chromosome ends is N. Without
regions, the target spans of the first ``n_default_regions`` test windows are used.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyBigWig
import torch

from enformer_lite.errors import InputError
from enformer_lite.genome import chrom_sizes, fetch_codes, open_fasta
from enformer_lite.sequence import one_hot
from enformer_lite.tracks import TrackSpec
from enformer_lite.training.config import from_mapping
from enformer_lite.training.dataset import H5Meta, read_windows
from enformer_lite.training.cli_common import add_inference_flags, settings_from_args
from enformer_lite.training.inference import TTAConfig, open_trained, predict
from enformer_lite.training.module import ModelBuilder

log = logging.getLogger(__name__)

_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


@dataclass(frozen=True)
class Region:
    """A 0-based half-open interval."""

    chrom: str
    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Region:
        match = _REGION.match(text.strip())
        if not match:
            raise InputError(f"region {text!r}: expected chrom:start-end")
        start, end = (int(match[k].replace(",", "")) for k in ("start", "end"))
        if end <= start:
            raise InputError(f"region {text!r}: end must be greater than start")
        return cls(match["chrom"], start, end)

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}"


@dataclass(frozen=True)
class PredictConfig:
    """The ``predict:`` config section."""

    regions: tuple[str, ...] = ()
    n_default_regions: int = 2
    batch_size: int = 2
    reverse_complement: bool = False
    shifts: tuple[int, ...] = (0,)
    device: str = "auto"

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> PredictConfig:
        values = dict(values or {})
        values.pop("resources", None)  # read by the workflow only
        for key in ("regions", "shifts"):
            if key in values:
                values[key] = tuple(values[key])
        return from_mapping(cls, values, "predict")


def untransform(values: np.ndarray, track: TrackSpec, bin_size: int) -> np.ndarray:
    """Training-scale bin values → original per-base scale (see the module docstring)."""
    x = track.untransform(values)
    return x / bin_size if track.sum_stat == "sum" else x


def merge_regions(regions: Sequence[Region], sizes: dict[str, int], bin_size: int) -> list[Region]:
    """Regions widened to whole bins, clipped to the chromosome, sorted in FASTA order and merged."""
    order = {name: i for i, name in enumerate(sizes)}
    aligned = []
    for region in regions:
        if region.chrom not in sizes:
            raise InputError(f"region {region}: chromosome {region.chrom!r} is not in the FASTA")
        if region.start >= sizes[region.chrom]:
            raise InputError(f"region {region}: starts past the end of {region.chrom} ({sizes[region.chrom]} bp)")
        start = region.start // bin_size * bin_size
        end = min(-(-region.end // bin_size) * bin_size, sizes[region.chrom])
        aligned.append(Region(region.chrom, start, end))
    aligned.sort(key=lambda r: (order[r.chrom], r.start))
    merged: list[Region] = []
    for region in aligned:
        if merged and merged[-1].chrom == region.chrom and region.start <= merged[-1].end:
            merged[-1] = Region(region.chrom, merged[-1].start, max(merged[-1].end, region.end))
        else:
            merged.append(region)
    return merged


def default_regions(data: str | Path, meta: H5Meta, n: int) -> list[Region]:
    """Target spans of the first ``n`` test windows."""
    windows = read_windows(data)
    rows = np.flatnonzero(windows["split"] == "test")[:n]
    if not len(rows):
        raise InputError(f"{data}: no test windows to predict by default; give regions")
    crop = (meta.window_length // meta.bin_size - meta.target_length) // 2 * meta.bin_size
    span = meta.target_length * meta.bin_size
    return [Region(windows["chrom"][r], int(windows["start"][r]) + crop, int(windows["start"][r]) + crop + span) for r in rows]


def window_starts(region: Region, meta: H5Meta) -> list[int]:
    """Starts of the windows whose target bins tile ``region`` (region start on the bin grid)."""
    crop = (meta.window_length // meta.bin_size - meta.target_length) // 2 * meta.bin_size
    span = meta.target_length * meta.bin_size
    return [target_start - crop for target_start in range(region.start, region.end, span)]


def predict_region(
    model: torch.nn.Module, fasta: Any, region: Region, meta: H5Meta, head: str, cfg: PredictConfig, device: torch.device
) -> np.ndarray:
    """Predicted training-scale values (bins, T) covering ``region`` bin by bin."""
    starts = window_starts(region, meta)
    outputs = []
    tta = TTAConfig(cfg.reverse_complement, cfg.shifts)
    for i in range(0, len(starts), cfg.batch_size):
        codes = np.stack([fetch_codes(fasta, region.chrom, s, s + meta.window_length) for s in starts[i : i + cfg.batch_size]])
        x = torch.from_numpy(one_hot(codes)).to(device)
        outputs.append(predict(model, x, head, meta.strand_pair, tta).cpu().numpy())
    values = np.concatenate(outputs).reshape(-1, meta.n_tracks)
    n_bins = -(-(region.end - region.start) // meta.bin_size)
    return values[:n_bins]


def write_bigwig(path: Path, sizes: dict[str, int], entries: Sequence[tuple[Region, np.ndarray]], bin_size: int) -> None:
    """One track: ``entries`` of (region, per-bin values (bins,)) in sorted order, one entry per bin."""
    bw = pyBigWig.open(str(path), "w")
    try:
        bw.addHeader(list(sizes.items()), maxZooms=10)
        for region, values in entries:
            starts = np.arange(region.start, region.end, bin_size, dtype=np.int64)[: len(values)]
            ends = np.minimum(starts + bin_size, region.end)
            bw.addEntries([region.chrom] * len(starts), starts.tolist(), ends=ends.tolist(),
                          values=values.astype(np.float64).tolist())
    finally:
        bw.close()


def predict_tracks(
    checkpoint: str | Path,
    data: str | Path,
    fasta_path: str | Path,
    outdir: str | Path,
    cfg: PredictConfig | None = None,
    head: str | None = None,
    builder: ModelBuilder | None = None,
) -> list[Path]:
    """Write ``outdir/<track id>.bw`` for every track of ``head``; returns the paths.

    ``outdir`` appears only when complete (written under a temporary name, then renamed).
    """
    cfg = cfg or PredictConfig()
    model, meta, head, device = open_trained(checkpoint, data, head, cfg.device, builder)
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    requested = [Region.parse(r) for r in cfg.regions] or default_regions(data, meta, cfg.n_default_regions)
    regions = merge_regions(requested, sizes, meta.bin_size)
    predictions = [(region, predict_region(model, fasta, region, meta, head, cfg, device)) for region in regions]
    out = Path(outdir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp", dir=out.parent))
    try:
        for track in meta.tracks:
            entries = [(r, untransform(v[:, track.index], track, meta.bin_size)) for r, v in predictions]
            write_bigwig(tmp / f"{track.id}.bw", sizes, entries, meta.bin_size)
        (tmp / "regions.bed").write_text("".join(f"{r.chrom}\t{r.start}\t{r.end}\n" for r in regions))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %d tracks over %d regions to %s", meta.n_tracks, len(regions), out)
    return [out / f"{t.id}.bw" for t in meta.tracks]


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite predict``."""
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (best.ckpt)")
    parser.add_argument("--data", required=True, help="data.h5 of the genome (tracks table, window geometry, test windows)")
    parser.add_argument("--fasta", required=True, help="reference FASTA (sequence and chromosome sizes)")
    parser.add_argument("--outdir", required=True, help="directory for <track id>.bw and regions.bed")
    parser.add_argument("--head", help="model head to use (default: the genome attribute of --data)")
    parser.add_argument("--region", action="append", dest="regions", metavar="CHROM:START-END",
                        help="0-based half-open region; repeatable (default: the first test windows)")
    add_inference_flags(parser, "predict")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite predict``."""
    values = settings_from_args(args, "predict")
    if args.regions:
        values["regions"] = args.regions
    predict_tracks(args.checkpoint, args.data, args.fasta, args.outdir, PredictConfig.from_dict(values), args.head)
    return 0
