"""``enformer-lite plot-tracks``: draw any region from a checkpoint and/or bigWig files.

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

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


from enformer_lite.errors import InputError
from enformer_lite.contributions.regions import read_candidates_bed
from enformer_lite.plots.readers import observed_signal, on_bins, overlapping
from enformer_lite.plots.style import save_figure
from enformer_lite.plots.tracks import TrackSignal, plot_tracks
from enformer_lite.tracks import read_tracks_table
from enformer_lite.training.cli_common import parse_named_paths
from enformer_lite.training.genes import read_genes_bed
from enformer_lite.training.predict import PredictConfig, Region

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObservedTrack:
    """A bigWig to show as observed signal."""

    id: str
    path: str
    assay: str = ""
    strand: str = "."


def observed_tracks(tracks_table: str | None, bigwigs: Sequence[str] | None) -> list[ObservedTrack]:
    """Tracks from a tracks table (``file`` column) followed by ``ID=PATH`` items."""
    out = []
    if tracks_table:
        out += [ObservedTrack(t.id, t.file, t.assay, t.strand) for t in read_tracks_table(tracks_table)]
    out += [ObservedTrack(i, p) for i, p in parse_named_paths(bigwigs, "--bigwig").items()]
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
        entry["observed"] = observed_signal(track.path, region, bin_size)
    order = list(only) or list(by_id)
    unknown = [i for i in order if i not in by_id]
    if unknown:
        raise InputError(f"--track {', '.join(unknown)}: no such track (tracks: {', '.join(by_id)})")
    return [TrackSignal(i, by_id[i]["assay"], by_id[i]["strand"], by_id[i].get("observed"), by_id[i].get("predicted"))
            for i in order]


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite plot-tracks``."""
    parser.add_argument("--region", required=True, metavar="CHROM:START-END",
                        help="0-based half-open region, commas allowed (e.g. chr3:1,000,000-1,114,688)")
    parser.add_argument("--out", action="append", required=True, metavar="FILE",
                        help="output figure, .png or .pdf; repeatable")
    source = parser.add_argument_group("signal sources (at least one)")
    source.add_argument("--checkpoint", help="training checkpoint (best.ckpt): predicted tracks")
    source.add_argument("--fasta", help="reference FASTA the checkpoint predicts on (needed with --checkpoint)")
    source.add_argument("--head", help="model head (organism) to predict with; needed when the model has several")
    source.add_argument("--tracks", help="tracks table (TSV): its bigWig files are the observed tracks")
    source.add_argument("--bigwig", action="append", metavar="ID=PATH", help="an observed bigWig; repeatable")
    show = parser.add_argument_group("what to show")
    show.add_argument("--track", action="append", dest="only", metavar="ID",
                      help="show only these track ids, in this order; repeatable")
    show.add_argument("--genes", help="genes BED6 (chrom, tss, tss+1, id, score, strand)")
    show.add_argument("--candidates", help="candidate elements (BED)")
    show.add_argument("--mark", action="append", type=int, default=[], metavar="POS",
                      help="draw a vertical line at this position (bp); repeatable")
    show.add_argument("--title", default="", help="title shown before the region")
    show.add_argument("--bin-size", type=int, default=128,
                      help="bp per bin for observed-only plots (with --checkpoint the model's bin size is used)")
    show.add_argument("--width", type=float, default=8.0, help="figure width in inches")
    show.add_argument("--shared-scale", action="store_true",
                      help="same y range for the observed and predicted rows of a track (default: each row its own)")
    tta = parser.add_argument_group("prediction")
    tta.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    tta.add_argument("--reverse-complement", action=argparse.BooleanOptionalAction, default=False,
                     help="average with reverse-complement predictions")
    tta.add_argument("--shifts", type=int, nargs="+", default=[0], help="average over these bp shifts")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite plot-tracks``."""
    if not args.checkpoint and not args.tracks and not args.bigwig:
        raise InputError("plot-tracks: give --checkpoint (with --fasta), --tracks or --bigwig")
    if args.checkpoint and not args.fasta:
        raise InputError("plot-tracks: --checkpoint needs --fasta (the sequence to predict on)")
    for path in args.out:
        if Path(path).suffix.lower() not in (".png", ".pdf"):
            raise InputError(f"--out {path}: use a .png or .pdf file name")
    region = Region.parse(args.region)
    prediction = None
    bin_size = args.bin_size
    if args.checkpoint:
        from enformer_lite.plots.predicted import predict_signal

        cfg = PredictConfig(reverse_complement=args.reverse_complement, shifts=tuple(args.shifts), device=args.device)
        prediction = predict_signal(args.checkpoint, args.fasta, region, args.head, cfg)
        region, bin_size = prediction.region, prediction.bin_size
    else:
        region = on_bins(region, bin_size)
    signals = collect_signals(region, bin_size, observed_tracks(args.tracks, args.bigwig), prediction, args.only or ())
    genes = read_genes_bed(args.genes) if args.genes else None
    elements = overlapping(read_candidates_bed(args.candidates), region) if args.candidates else None
    fig = plot_tracks(region, bin_size, signals, genes, elements, title=args.title, marks=args.mark, width=args.width,
                      shared_scale=args.shared_scale)
    for path in save_figure(fig, args.out):
        log.info("wrote %s", path)
    n_obs = sum(s.observed is not None for s in signals)
    n_pred = sum(s.predicted is not None for s in signals)
    log.info("%s: %d observed and %d predicted tracks", region, n_obs, n_pred)
    return 0
