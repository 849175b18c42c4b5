"""``enformer-lite extract``: one chromosome's windows → an HDF5 part."""

from __future__ import annotations

import argparse

from enformer_lite.cli.windows import add_window_arguments, window_spec
from enformer_lite.data.blacklist import read_blacklist
from enformer_lite.data.extract import extract_chromosome
from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.data.windows import read_bed


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or bgzip)")
    parser.add_argument("--tracks", required=True, help="tracks table (TSV)")
    parser.add_argument("--windows", required=True, help="windows.bed from `enformer-lite windows`")
    parser.add_argument("--chrom", required=True, help="chromosome to extract")
    parser.add_argument("--genome", required=True, help="genome/organism name stored in the file")
    parser.add_argument("--out", required=True, help="output HDF5 part")
    parser.add_argument("--blacklist", help="BED (plain or gzip) of regions whose target bins are masked")
    add_window_arguments(parser)


def run(args: argparse.Namespace) -> int:
    blacklist = read_blacklist(args.blacklist, open_fasta(args.fasta).keys()) if args.blacklist else None
    extract_chromosome(
        args.fasta,
        read_tracks_table(args.tracks),
        list(read_bed(args.windows)),
        args.chrom,
        window_spec(args),
        args.genome,
        args.out,
        blacklist,
    )
    return 0
