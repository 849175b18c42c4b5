"""``enformer-lite plot-tracks``: draw any region (see :mod:`enformer_lite.plots.plot_tracks`)."""

from __future__ import annotations

import argparse
import logging

from enformer_lite.cli.common import add_threads_flag, parse_named_paths, set_threads
from enformer_lite.data.regions import Region
from enformer_lite.inference.predict_tracks import PredictConfig
from enformer_lite.errors import InputError
from enformer_lite.plots.loci import locus_region
from enformer_lite.plots.plot_tracks import RegionPlot, plot_region

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite plot-tracks``."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--region", metavar="CHROM:START-END",
                       help="0-based half-open region, commas allowed (e.g. chr3:1,000,000-1,114,688)")
    where.add_argument("--loci", metavar="TABLE", help="a loci table (results/plots/{genome}/loci.tsv); with --locus")
    parser.add_argument("--locus", metavar="NAME", help="the locus of --loci to draw")
    parser.add_argument("--out", action="append", required=True, metavar="FILE",
                        help="output figure, .png or .pdf; repeatable")
    source = parser.add_argument_group("signal sources (at least one)")
    source.add_argument("--checkpoint", help="training checkpoint (best.ckpt): predicted tracks")
    source.add_argument("--fasta", help="reference FASTA the checkpoint predicts on (needed with --checkpoint)")
    source.add_argument("--head", help="model head (organism) to predict with; needed when the model has several")
    source.add_argument("--tracks", help="tracks table (TSV): its bigWig files are the observed tracks")
    source.add_argument("--bigwig", action="append", metavar="ID=PATH", help="an observed bigWig; repeatable")
    show = parser.add_argument_group("what to show")
    show.add_argument("--track", action="append", dest="only", metavar="ID|SELECTION",
                      help="show only these tracks, in this order: ids, or selections of the model's tracks such "
                           "as 'CAGE:.*liver' (assay and description) or 'liver'; repeatable")
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
    add_threads_flag(tta)
    tta.add_argument("--reverse-complement", action=argparse.BooleanOptionalAction, default=False,
                     help="average with reverse-complement predictions")
    tta.add_argument("--shifts", type=int, nargs="+", default=[0], help="average over these bp shifts")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite plot-tracks``."""
    set_threads(args.threads)
    spec = RegionPlot(
        checkpoint=args.checkpoint, fasta=args.fasta, head=args.head, tracks=args.tracks,
        bigwigs=parse_named_paths(args.bigwig, "--bigwig"), only=tuple(args.only or ()), genes=args.genes,
        candidates=args.candidates, marks=tuple(args.mark), title=args.title, bin_size=args.bin_size,
        width=args.width, shared_scale=args.shared_scale,
        predict=PredictConfig(reverse_complement=args.reverse_complement, shifts=tuple(args.shifts), device=args.device),
    )
    if args.loci:
        if not args.locus:
            raise InputError("plot-tracks: --loci needs --locus NAME")
        region = locus_region(args.loci, args.locus)
    else:
        region = Region.parse(args.region)
    for path in plot_region(region, spec, args.out):
        log.info("wrote %s", path)
    return 0
