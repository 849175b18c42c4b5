"""``enformer-lite predict``: predicted tracks as bigWig (see :mod:`enformer_lite.inference.predict_tracks`)."""

from __future__ import annotations

import argparse

from enformer_lite.atomic import check_replaceable

from enformer_lite.cli.common import add_inference_flags, settings_from_args
from enformer_lite.inference.predict_tracks import PredictConfig, predict_tracks


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
    check_replaceable(args.outdir)  # before any work: never replace a directory enformer-lite did not write
    values = settings_from_args(args, "predict")
    if args.regions:
        values["regions"] = args.regions
    predict_tracks(args.checkpoint, args.data, args.fasta, args.outdir, PredictConfig.from_dict(values), args.head)
    return 0
