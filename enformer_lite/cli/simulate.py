"""``enformer-lite simulate``: write the simulated demo world with its ground truth."""

from __future__ import annotations

import argparse
import logging
import time

from enformer_lite.simulate.world import SIZES, simulate

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to ``parser``."""
    parser.add_argument("--size", choices=sorted(SIZES), default="demo", help="world size preset (default: demo)")
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed; the same seed gives identical files (default: 1)"
    )
    parser.add_argument("--outdir", required=True, help="output directory (created if missing)")
    parser.add_argument(
        "--genomes",
        default="human,mouse",
        help="comma-separated genomes to write (default: human,mouse)",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the world; returns 0."""
    genomes = tuple(g for g in args.genomes.split(",") if g)
    start = time.perf_counter()
    simulate(args.size, args.seed, args.outdir, genomes=genomes)
    log.info(
        "simulated world (%s, seed %d) written to %s in %.1f s",
        args.size,
        args.seed,
        args.outdir,
        time.perf_counter() - start,
    )
    return 0
