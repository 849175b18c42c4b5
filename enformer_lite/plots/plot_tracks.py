"""Draw any region from a checkpoint and/or bigWig files (``enformer-lite plot-tracks``).

Predicted signal comes from ``--checkpoint`` run on ``--fasta``; observed signal
from the bigWigs of a tracks table (``--tracks``) and/or single files
(``--bigwig ID=PATH``). Tracks are matched by id, so the observed and predicted
rows of a track stand together. Both are shown as the mean per bp in each bin
(the bigWig's own unit; predictions are untransformed with the tracks table
stored in the checkpoint). Track order: ``--track`` order when given, else the
checkpoint's tracks table, then any observed-only tracks. Each row is scaled to
its own maximum unless ``--shared-scale`` gives both rows of a track one y range.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from enformer_lite.data.candidates import read_candidates_bed
from enformer_lite.data.genes import read_genes
from enformer_lite.data.tracks import select_tracks
from enformer_lite.data.regions import Region
from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.errors import InputError
from enformer_lite.inference.predict_tracks import PredictConfig
from enformer_lite.plots.readers import observed_signal, on_bins, overlapping
from enformer_lite.plots.style import save_figure
from enformer_lite.plots.tracks import TrackSignal, plot_tracks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObservedTrack:
    """A bigWig to show as observed signal."""

    id: str
    path: str
    assay: str = ""
    strand: str = "."
    missing_chrom: str = "error"


def observed_tracks(tracks_table: str | None, bigwigs: Mapping[str, str]) -> list[ObservedTrack]:
    """Tracks from a tracks table (``file`` column) followed by single bigWigs (id → path)."""
    out = []
    if tracks_table:
        out += [ObservedTrack(t.id, t.file, t.assay, t.strand, t.missing_chrom) for t in read_tracks_table(tracks_table)]
    out += [ObservedTrack(i, p) for i, p in bigwigs.items()]
    return out


def collect_signals(
    region: Region,
    bin_size: int,
    observed: Sequence[ObservedTrack],
    prediction: object | None = None,
    only: Sequence[str] = (),
) -> list[TrackSignal]:
    """Observed and predicted per-bin signal per track id, in display order (see the module docstring)."""
    by_id: dict[str, dict] = {}
    if prediction is not None:
        for track in prediction.tracks:
            by_id[track.id] = {"assay": track.assay, "strand": track.strand,
                               "predicted": prediction.values[:, track.index]}
    for track in observed:
        entry = by_id.setdefault(track.id, {"assay": track.assay, "strand": track.strand})
        entry["assay"] = entry["assay"] or track.assay
        entry["observed"] = observed_signal(track.path, region, bin_size, track.missing_chrom)
    order = []
    for item in only:  # an id, or a selection such as CAGE:.*liver over the model's tracks
        if item in by_id or prediction is None:
            order.append(item)
        else:
            order.extend(t.id for t in select_tracks(prediction.tracks, [item]) if t.id not in order)
    order = order or list(by_id)
    unknown = [i for i in order if i not in by_id]
    if unknown:
        raise InputError(f"--track {', '.join(unknown)}: no such track (tracks: {', '.join(by_id)})")
    return [TrackSignal(i, by_id[i]["assay"], by_id[i]["strand"], by_id[i].get("observed"), by_id[i].get("predicted"))
            for i in order]


@dataclass(frozen=True)
class RegionPlot:
    """What ``plot-tracks`` draws: signal sources and annotations of one region.

    ``checkpoint`` + ``fasta`` give predicted tracks (``head`` when the model has several);
    ``tracks`` (a tracks table) and ``bigwigs`` (id → path) give observed ones.
    """

    checkpoint: str | None = None
    fasta: str | None = None
    head: str | None = None
    tracks: str | None = None
    bigwigs: Mapping[str, str] = field(default_factory=dict)
    only: tuple[str, ...] = ()
    genes: str | None = None
    candidates: str | None = None
    marks: tuple[int, ...] = ()
    title: str = ""
    bin_size: int = 128
    width: float = 8.0
    shared_scale: bool = False
    predict: PredictConfig = field(default_factory=PredictConfig)


def plot_region(region: Region, spec: RegionPlot, out: Sequence[str]) -> list[Path]:
    """Draw ``region`` as ``spec`` says into each file of ``out`` (.png/.pdf); returns the paths written."""
    if not spec.checkpoint and not spec.tracks and not spec.bigwigs:
        raise InputError("plot-tracks: give --checkpoint (with --fasta), --tracks or --bigwig")
    if spec.checkpoint and not spec.fasta:
        raise InputError("plot-tracks: --checkpoint needs --fasta (the sequence to predict on)")
    for path in out:
        if Path(path).suffix.lower() not in (".png", ".pdf"):
            raise InputError(f"--out {path}: use a .png or .pdf file name")
    prediction = None
    bin_size = spec.bin_size
    if spec.checkpoint:
        from enformer_lite.plots.predicted import predict_signal

        prediction = predict_signal(spec.checkpoint, spec.fasta, region, spec.head, spec.predict)
        region, bin_size = prediction.region, prediction.bin_size
    else:
        region = on_bins(region, bin_size)
    signals = collect_signals(region, bin_size, observed_tracks(spec.tracks, spec.bigwigs), prediction, spec.only)
    genes = read_genes(spec.genes) if spec.genes else None
    elements = overlapping(read_candidates_bed(spec.candidates), region) if spec.candidates else None
    fig = plot_tracks(region, bin_size, signals, genes, elements, title=spec.title, marks=list(spec.marks),
                      width=spec.width, shared_scale=spec.shared_scale)
    written = save_figure(fig, out)
    n_obs = sum(s.observed is not None for s in signals)
    n_pred = sum(s.predicted is not None for s in signals)
    log.info("%s: %d observed and %d predicted tracks", region, n_obs, n_pred)
    return written
