"""``enformer-lite contributions {score,gather,evaluate}``: which elements drive which genes.

* ``score``: one chunk of genes → a chunk directory (``scores.tsv``, ``tracks/``, ``summary.json``).
* ``gather``: chunk directories → the enhancer–gene table, a BEDPE of the top links and a
  directory of per-gene bigWigs.
* ``evaluate``: tables + truth tables → auROC/auPRC per genome, method and distance bin.
"""

from __future__ import annotations

import argparse

from enformer_lite.contributions.config import METHODS, ContributionsConfig
from enformer_lite.contributions.evaluate import DISTANCE_EDGES
from enformer_lite.atomic import check_replaceable
from enformer_lite.cli.common import (
    add_params_argument,
    add_threads_flag,
    load_params,
    parse_named_paths,
    section,
    set_threads,
)


_OVERRIDES = {"batch_size": "batch_size", "device": "device", "max_genes": "max_genes", "methods": "methods",
              "gene_ids": "genes", "chroms": "chroms"}
"""Command-line flag (dest) → config key it overrides."""


def _settings(args: argparse.Namespace) -> ContributionsConfig:
    values = section(load_params(args.params), "contributions")
    for dest, key in _OVERRIDES.items():
        if getattr(args, dest, None) is not None:
            values[key] = getattr(args, dest)
    return ContributionsConfig.from_dict(values)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite contributions``."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    score = actions.add_parser("score", help="score one chunk of genes", description="score one chunk of genes")
    score.add_argument("--checkpoint", required=True, help="training checkpoint (best.ckpt) or model file (then --data)")
    score.add_argument("--fasta", required=True, help="reference FASTA")
    score.add_argument("--genes", dest="genes_path", required=True, help="genes BED6 (chrom, TSS, TSS+1, id, score, strand)")
    score.add_argument("--candidates", required=True, help="candidate elements BED (chrom, start, end, id)")
    score.add_argument("--head", required=True, help="model head (organism) to use, e.g. human")
    score.add_argument("--outdir", required=True, help="chunk directory to write")
    score.add_argument("--data", help="data.h5 giving window geometry and tracks (needed for a model file)")
    score.add_argument("--chunk", type=int, default=0, help="0-based chunk index (default 0)")
    score.add_argument("--n-chunks", type=int, default=1, help="number of chunks the selected genes are split into")
    add_params_argument(score, '{"contributions": {...}}')
    score.add_argument("--genes-list", dest="gene_ids", nargs="+", metavar="GENE", help="score only these gene ids")
    score.add_argument("--chroms", nargs="+", help="score only genes on these chromosomes")
    score.add_argument("--max-genes", type=int, help="at most this many genes (0 = all)")
    score.add_argument("--methods", nargs="+", choices=METHODS, help="methods to run")
    score.add_argument("--batch-size", type=int, help="sequences per forward pass")
    score.add_argument("--device", help="auto, cpu, cuda, ...")
    add_threads_flag(score)

    gather = actions.add_parser("gather", help="merge chunk directories", description="merge chunk directories")
    gather.add_argument("chunks", nargs="+", help="chunk directories, in gene order")
    gather.add_argument("--out-tsv", required=True, help="enhancer-gene table")
    gather.add_argument("--out-bedpe", required=True, help="BEDPE of the top links per gene")
    gather.add_argument("--out-tracks", required=True, help="directory of per-gene gradient x input bigWigs")
    add_params_argument(gather, '{"contributions": {...}}')

    evaluate = actions.add_parser("evaluate", help="auROC/auPRC against truth", description="auROC/auPRC against truth")
    evaluate.add_argument("--scores", nargs="+", required=True, metavar="GENOME=TSV", help="enhancer-gene tables")
    evaluate.add_argument("--truth", nargs="+", required=True, metavar="GENOME=TSV", help="truth tables (gene, element, regulates)")
    evaluate.add_argument("--out", required=True, help="metrics table (TSV)")
    evaluate.add_argument("--distance-bins", type=int, nargs="+", default=list(DISTANCE_EDGES), metavar="BP",
                          help="distance bin edges in bp (default 10000 50000)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite contributions``."""
    from enformer_lite.contributions.score import evaluate_files, gather, score_chunk

    for outdir in (getattr(args, "outdir", None), getattr(args, "out_tracks", None)):
        if outdir:
            check_replaceable(outdir)  # before any work: never replace a directory enformer-lite did not write
    if args.action == "score":
        set_threads(args.threads)
        score_chunk(args.checkpoint, args.fasta, args.genes_path, args.candidates, args.outdir, _settings(args), args.head,
                    args.chunk, args.n_chunks, args.data)
    elif args.action == "gather":
        gather(args.chunks, args.out_tsv, args.out_bedpe, args.out_tracks, _settings(args))
    else:
        evaluate_files(parse_named_paths(args.scores, "--scores"), parse_named_paths(args.truth, "--truth"), args.out,
                       sorted(args.distance_bins))
    return 0
