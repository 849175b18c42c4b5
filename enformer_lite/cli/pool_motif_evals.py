"""``enformer-lite pool-motif-evals``: the per-genome motif truth evaluations of ``enformer-lite motifs --truth``
(``eval.tsv``, ``eval_motifs.tsv``) pooled into one world-level table: motif types planted in any genome,
recovered in any genome, spurious patterns summed (see :func:`enformer_lite.interpret.truth.pool_motif_evaluations`)."""

from __future__ import annotations

import argparse

from enformer_lite.cli.common import parse_named_paths


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite pool-motif-evals``."""
    parser.add_argument("--eval", dest="evals", action="append", required=True, metavar="GENOME=DIR",
                        help="a genome's enformer-lite motifs output directory (with eval.tsv, eval_motifs.tsv); repeat per genome")
    parser.add_argument("--out", required=True, help="pooled metrics TSV (metric, value, one column per genome)")
    parser.add_argument("--out-motifs", required=True, help="per-motif TSV (which genomes plant and recover it)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite pool-motif-evals``."""
    from enformer_lite.interpret.steps import pooled_motif_files

    pooled_motif_files(parse_named_paths(args.evals, "--eval"), args.out, args.out_motifs)
    return 0
