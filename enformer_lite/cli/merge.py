"""``enformer-lite merge``: per-chromosome HDF5 parts → results/{genome}/data.h5."""

from __future__ import annotations

import argparse
import logging

from enformer_lite.data.extract import merge_parts

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fasta", required=True, help="reference FASTA (for the input fingerprint)")
    parser.add_argument("--out", required=True, help="merged HDF5")
    parser.add_argument("parts", nargs="+", help="per-chromosome HDF5 parts, in order")


def run(args: argparse.Namespace) -> int:
    rows = merge_parts(args.parts, args.out, args.fasta)
    log.info("%s: %d windows from %d parts", args.out, rows, len(args.parts))
    return 0
