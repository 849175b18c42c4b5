"""``enformer-lite windows``: tile a genome into windows.bed with splits."""

from __future__ import annotations

import argparse
import logging

from enformer_lite.atomic import atomic_output
from enformer_lite.genome import open_fasta
from enformer_lite.windows import WindowSpec, assign_splits, tile_genome, write_bed

log = logging.getLogger(__name__)


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
    add_window_arguments(parser)


def run(args: argparse.Namespace) -> int:
    spec = window_spec(args)
    fasta = open_fasta(args.fasta)
    splits = assign_splits(list(fasta.keys()), args.valid, args.test, args.exclude)
    windows, report = tile_genome(fasta, spec, splits)
    with atomic_output(args.out) as tmp, open(tmp, "w") as handle:
        write_bed(windows, handle)
    log.info(
        "%s: %d windows kept (train %d, valid %d, test %d); %d dropped for > %.0f%% N",
        args.fasta, len(windows), report.kept["train"], report.kept["valid"], report.kept["test"],
        report.dropped_n, 100 * spec.max_n_fraction,
    )
    for split, count in report.kept.items():
        if count == 0:
            log.warning("split %s has no windows", split)
    return 0
