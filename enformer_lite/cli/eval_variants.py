"""``enformer-lite eval-variants``: predicted variant effects at TSSs against the simulator's exact ones.

See :mod:`enformer_lite.variants.evaluate` for the matching and the output table.
"""

from __future__ import annotations

import argparse

from enformer_lite.variants.evaluate import evaluate_cases, write_evaluation


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite eval-variants``."""
    parser.add_argument("--case", nargs=4, action="append", required=True, metavar=("NAME", "SCORES", "TRUTH", "GENES"),
                        help="one scored VCF: a name, its HDF5 score file (scored with --genes), the simulator's "
                             "truth/variants.tsv and the genome's BED6 TSS file; repeatable")
    parser.add_argument("--out", required=True, help="output TSV (first column: the case name)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite eval-variants``."""
    write_evaluation(evaluate_cases(args.case), args.out)
    return 0
