"""``enformer-lite windows``: tile a genome into windows.bed with splits."""

from __future__ import annotations

import argparse

from enformer_lite.data.blacklist import BLACKLIST_MODES
from enformer_lite.data.windows import PRIMARY_CHROMS, WindowSpec, write_windows


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """Window geometry flags shared by ``windows`` and ``extract``."""
    spec = WindowSpec()
    parser.add_argument("--length", type=int, default=spec.length, help="window length in bp")
    parser.add_argument("--stride", type=int, default=spec.stride, help="distance between window starts in bp")
    parser.add_argument("--bin-size", type=int, default=spec.bin_size, help="bp per target bin")
    parser.add_argument("--target-length", type=int, default=spec.target_length, help="central target bins kept")
    parser.add_argument("--max-n-fraction", type=float, default=spec.max_n_fraction, help="drop windows with more N")


def window_spec(args: argparse.Namespace) -> WindowSpec:
    """WindowSpec from the shared flags (validated)."""
    return WindowSpec(args.length, args.stride, args.bin_size, args.target_length, args.max_n_fraction)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or bgzip)")
    parser.add_argument("--valid", nargs="*", default=[], help="validation chromosomes")
    parser.add_argument("--test", nargs="*", default=[], help="test chromosomes")
    parser.add_argument("--exclude", nargs="*", default=[], help="chromosomes to leave out entirely")
    parser.add_argument("--out", required=True, help="output windows.bed")
    parser.add_argument("--chroms", default=PRIMARY_CHROMS, metavar="REGEX",
                        help="FASTA records whose whole name matches take part (default: primary chromosomes, "
                             "no alt/random/Un/EBV/decoy records)")
    parser.add_argument("--blacklist", help="BED (plain or gzip) of regions to leave out")
    parser.add_argument("--blacklist-mode", choices=BLACKLIST_MODES, default="mask",
                        help="drop: leave out windows whose target bins the blacklist touches; "
                             "mask (default): keep them (extract masks those bins)")
    add_window_arguments(parser)


def run(args: argparse.Namespace) -> int:
    write_windows(args.fasta, window_spec(args), args.valid, args.test, args.exclude, args.out, args.chroms,
                  args.blacklist, args.blacklist_mode)
    return 0
