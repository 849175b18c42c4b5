"""``enformer-lite motifs``: attributions over candidate elements (and promoters) → TF-MoDISco patterns →
TOMTOM matches against the shipped JASPAR matrices; with ``--truth`` the recall/precision against the
simulator's planted instances (see :mod:`enformer_lite.interpret.motifs`)."""

from __future__ import annotations

import argparse

from enformer_lite.cli.common import add_params_argument, load_params, section, set_threads
from enformer_lite.cli.ism import add_model_flags


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite motifs``."""
    add_model_flags(parser, "genes BED6: adds TSS-centred sequences (interpret.motifs.promoters)",
                    "candidate elements BED (chrom, start, end, id)")
    parser.add_argument("--truth", help="simulator truth: elements.tsv (or motifs.tsv) with the planted sites")
    parser.add_argument("--outdir", required=True, help="directory for motifs.meme, matches.tsv, seqlets.bed, ...")
    parser.add_argument("--logo", nargs="*", default=[], help="pattern logo figure(s), .png or .pdf")
    add_params_argument(parser, '{"interpret": {"motifs": {...}}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite motifs``."""
    from enformer_lite.errors import InputError
    from enformer_lite.interpret.config import InterpretConfig
    from enformer_lite.interpret.steps import motif_files

    if not args.candidates and not args.genes:
        raise InputError("enformer-lite motifs: give --candidates and/or --genes")
    cfg = InterpretConfig.from_dict(section(load_params(args.params), "interpret")).motifs
    set_threads(args.threads)
    motif_files(args.checkpoint, args.fasta, args.candidates, args.outdir, cfg, args.head, args.genes, args.truth,
                args.logo, args.data)
    return 0
