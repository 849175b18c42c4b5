"""``enformer-lite evaluate``: score a checkpoint on the test windows (see :mod:`enformer_lite.inference.evaluate`)."""

from __future__ import annotations

import argparse
import logging

from enformer_lite.cli.common import add_inference_flags, settings_from_args
from enformer_lite.inference.evaluate import EvalConfig, evaluate, write_table

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite evaluate``."""
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (best.ckpt)")
    parser.add_argument("--data", required=True, help="data.h5 of one genome; its 'test' windows are scored")
    parser.add_argument("--head", help="model head to use (default: the genome attribute of --data)")
    parser.add_argument("--genes", help="genes BED6 (chrom, tss, tss+1, id, score, strand) for the TSS score")
    parser.add_argument("--out", required=True, help="output TSV, one row per track")
    parser.add_argument("--tss-out", help="also write the per-gene TSS values (gene_id, chrom, tss, strand, "
                                          "track_id, observed, predicted) to this TSV")
    add_inference_flags(parser, "evaluate")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite evaluate``."""
    cfg = EvalConfig.from_dict(settings_from_args(args, "evaluate"))
    result = evaluate(args.checkpoint, args.data, args.head, args.genes or None, cfg)
    write_table(result.tracks, args.out)
    if args.tss_out:
        write_table(result.tss, args.tss_out)
    for row in result.tracks.itertuples():
        log.info("%s %s: r=%.3f over positions; TSS r=%.3f over %d genes", row.head, row.track_id, row.pearson,
                 row.pearson_tss, row.n_genes)
    return 0
