"""The predict stage: predicted tracks as bigWig files for chosen regions.

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

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyBigWig
import torch

from enformer_lite.atomic import atomic_directory, staged_bigwig
from enformer_lite.data.fasta import chrom_sizes, fetch_codes, open_fasta
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.h5 import read_windows
from enformer_lite.data.regions import Region
from enformer_lite.data.sequence import one_hot
from enformer_lite.errors import InputError
from enformer_lite.inference.checkpoint import ModelBuilder
from enformer_lite.inference.signal import Untransform
from enformer_lite.inference.trained import TrainedModel, open_model
from enformer_lite.inference.tta import TTAConfig, predict
from enformer_lite.sections import from_mapping

log = logging.getLogger(__name__)


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


def default_regions(data: str | Path, geometry: WindowGeometry, n: int) -> list[Region]:
    """Target spans of the first ``n`` test windows."""
    windows = read_windows(data)
    rows = np.flatnonzero(windows["split"] == "test")[:n]
    if not len(rows):
        raise InputError(f"{data}: no test windows to predict by default; give regions")
    starts = [geometry.target_start(int(windows["start"][r])) for r in rows]
    return [Region(windows["chrom"][r], s, s + geometry.target_span) for r, s in zip(rows, starts)]


def window_starts(region: Region, geometry: WindowGeometry) -> list[int]:
    """Starts of the windows whose target bins tile ``region`` (region start on the bin grid)."""
    return [target_start - geometry.crop_bp for target_start in range(region.start, region.end, geometry.target_span)]


def predict_region(trained: TrainedModel, fasta: Any, region: Region, cfg: PredictConfig) -> np.ndarray:
    """Predicted training-scale values (bins, T) covering ``region`` bin by bin."""
    geometry = trained.geometry
    starts = window_starts(region, geometry)
    outputs = []
    tta = TTAConfig(cfg.reverse_complement, cfg.shifts)
    for i in range(0, len(starts), cfg.batch_size):
        codes = np.stack([fetch_codes(fasta, region.chrom, s, s + geometry.window_length) for s in starts[i : i + cfg.batch_size]])
        x = torch.from_numpy(one_hot(codes)).to(trained.device)
        outputs.append(predict(trained.model, x, trained.head, trained.strand_pair, tta).cpu().numpy())
    values = np.concatenate(outputs).reshape(-1, len(trained.tracks))
    n_bins = -(-(region.end - region.start) // geometry.bin_size)
    return values[:n_bins]


def write_bigwig(path: Path, sizes: dict[str, int], entries: Sequence[tuple[Region, np.ndarray]], bin_size: int) -> None:
    """One track: ``entries`` of (region, per-bin values (bins,)) in sorted order, one entry per bin."""
    with staged_bigwig(path) as staged:  # libBigWig crashes on a full disk: it writes to memory first
        bw = pyBigWig.open(staged, "w")
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
    trained = open_model(checkpoint, head, cfg.device, data, builder)
    geometry = trained.geometry
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    requested = [Region.parse(r) for r in cfg.regions] or default_regions(data, geometry, cfg.n_default_regions)
    regions = merge_regions(requested, sizes, geometry.bin_size)
    predictions = [(region, predict_region(trained, fasta, region, cfg)) for region in regions]
    per_base = Untransform(trained.tracks, "per_base", geometry.bin_size)
    per_base_predictions = [(region, per_base(values)) for region, values in predictions]
    out = Path(outdir)
    with atomic_directory(out) as tmp:
        for track in trained.tracks:
            entries = [(r, v[:, track.index]) for r, v in per_base_predictions]
            write_bigwig(tmp / f"{track.id}.bw", sizes, entries, geometry.bin_size)
        (tmp / "regions.bed").write_text("".join(f"{r.chrom}\t{r.start}\t{r.end}\n" for r in regions))
    log.info("wrote %d tracks over %d regions to %s", len(trained.tracks), len(regions), out)
    return [out / f"{t.id}.bw" for t in trained.tracks]
