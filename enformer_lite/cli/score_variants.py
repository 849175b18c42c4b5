"""``enformer-lite score-variants``: score the alleles of a VCF (or one chunk of it) with a trained model.

With ``--part`` only the HDF5 score file of the chosen chunk is written (the workflow
scatters a VCF over ``--n-chunks`` jobs and gathers them with ``gather-variants``); a chunk is a
set of genomic regions read through the VCF's tabix/CSI index (:mod:`enformer_lite.variants.chunks`).
With ``--out-prefix`` the whole VCF is scored and every output is written (see
:mod:`enformer_lite.variants.outputs`). Scoring itself is :func:`enformer_lite.variants.score.score_vcf`.
``--index-copy COPY.vcf.gz`` only writes a bgzipped, tabix-indexed copy of a VCF that has no
index (the workflow's step before chunked scoring; the input itself is never changed).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from enformer_lite.cli.common import add_inference_flags, add_threads_flag, set_threads, settings_from_args
from enformer_lite.errors import InputError
from enformer_lite.inference.trained import open_model
from enformer_lite.variants.chunks import write_indexed_copy
from enformer_lite.variants.config import REF_POLICIES, ScoreConfig
from enformer_lite.variants.outputs import write_outputs
from enformer_lite.variants.score import score_vcf


def parse_chrom_map(items: Sequence[str] | None) -> dict[str, str]:
    """``--chrom-map`` values: ``VCF=FASTA`` pairs, or a two-column TSV file of such pairs."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item and Path(item).is_file():
            for number, line in enumerate(Path(item).read_text().splitlines(), start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) != 2:
                    raise InputError(f"{item} line {number}: expected two tab-separated names (VCF, FASTA)")
                out[fields[0].strip()] = fields[1].strip()
            continue
        vcf_name, sep, fasta_name = item.partition("=")
        if not sep or not vcf_name or not fasta_name:
            raise InputError(f"--chrom-map {item!r}: expected VCF_NAME=FASTA_NAME or a two-column file")
        out[vcf_name] = fasta_name
    return out


def config_from_args(args: argparse.Namespace) -> ScoreConfig:
    """The ``variants`` settings of ``--params`` with command-line flags applied."""
    values = settings_from_args(args, "variants")
    for key in ("ref_mismatch", "grid", "limit", "block_size", "indels", "max_indel_length", "tss_half_bins"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if args.chrom_map:
        values["chrom_map"] = {**values.get("chrom_map", {}), **parse_chrom_map(args.chrom_map)}
    if args.gene_assays is not None:
        values["gene_assays"] = args.gene_assays
    if args.regions:
        values["regions"] = args.regions
    return ScoreConfig.from_dict(values)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite score-variants``."""
    parser.add_argument("--vcf", required=True, help="VCF, plain or bgzipped")
    parser.add_argument("--fasta", help="reference FASTA the VCF refers to (required unless --index-copy)")
    parser.add_argument("--checkpoint", help="training checkpoint (best.ckpt) (required unless --index-copy)")
    parser.add_argument("--head", help="model head (organism) to score with, e.g. human (required unless --index-copy)")
    parser.add_argument("--genes", help="BED6 TSS file; adds per-gene scores for genes in the target window")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out-prefix", help="write PREFIX.tsv.gz, .h5, .vcf.gz(+.tbi), .genes.tsv.gz, .skipped.tsv")
    out.add_argument("--part", help="write only this chunk's HDF5 score file (gather with gather-variants)")
    out.add_argument("--index-copy", metavar="COPY.vcf.gz",
                     help="only write a bgzipped, tabix-indexed copy of --vcf (for chunked scoring of a VCF without index)")
    parser.add_argument("--chunk", type=int, default=0, help="0-based chunk to score (with --n-chunks)")
    parser.add_argument("--n-chunks", type=int, default=1,
                        help="split the VCF into this many chunks of genomic regions of about equal record counts "
                             "(needs a .tbi/.csi index when > 1)")
    parser.add_argument("--ref-mismatch", choices=REF_POLICIES, help="REF differs from the FASTA (default skip)")
    parser.add_argument("--chrom-map", action="append", metavar="VCF=FASTA|FILE",
                        help="chromosome name mapping, repeatable, or a two-column TSV file")
    parser.add_argument("--indels", action=argparse.BooleanOptionalAction, default=None, help="score indels (default yes)")
    parser.add_argument("--max-indel-length", type=int, help="skip alleles longer than this (bp)")
    parser.add_argument("--grid", type=int, help="window centres on multiples of this (bp); 1 = centred on each variant")
    parser.add_argument("--region", action="append", dest="regions", metavar="CHROM[:START-END]",
                        help="score only records here (0-based, half-open); repeatable")
    parser.add_argument("--limit", type=int, help="score only the first N (selected) records (0 = all)")
    parser.add_argument("--block-size", type=int, help="alleles per streamed block")
    parser.add_argument("--tss-half-bins", type=int, help="per-gene scores sum the TSS bin ± this many bins")
    parser.add_argument("--gene-assays", nargs="*", help="assays that get per-gene scores (none given: all tracks)")
    add_threads_flag(parser)
    add_inference_flags(parser, "variants")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite score-variants``."""
    if args.index_copy:
        write_indexed_copy(args.vcf, args.index_copy)
        return 0
    missing = [f"--{k}" for k in ("fasta", "checkpoint", "head") if not getattr(args, k)]
    if missing:
        raise InputError(f"score-variants: {', '.join(missing)} required (unless --index-copy)")
    set_threads(args.threads)
    if args.n_chunks < 1:
        raise InputError(f"--n-chunks {args.n_chunks}: must be ≥ 1")
    cfg = config_from_args(args)
    trained = open_model(args.checkpoint, args.head, cfg.device)
    attrs = {"checkpoint": str(args.checkpoint)}
    if args.part:
        score_vcf(args.vcf, args.fasta, trained, args.part, cfg, args.genes, args.chunk, args.n_chunks, attrs)
        return 0
    prefix = Path(args.out_prefix)
    score_vcf(args.vcf, args.fasta, trained, f"{prefix}.h5", cfg, args.genes, attrs=attrs)
    write_outputs(f"{prefix}.h5", args.vcf, prefix)
    return 0
