"""``enformer-lite plot <figure>``: the workflow's figures, each from its result files.

==============  ==============================================================  =============================
figure          draws                                                           from
==============  ==============================================================  =============================
loci            (a table, not a figure) loci for track plots                    data.h5, genes BED, config
accuracy        per-track Pearson on the test set, sorted                       results/eval/{genome}.tsv
tss             predicted vs observed CAGE at TSSs of test genes                results/eval/{genome}.tss.tsv
training        loss, validation Pearson and learning rate per step             results/model/metrics.csv
variants        ref/alt tracks of the top variants; score distribution          results/variants/{name}.*
contributions   element contributions to genes, enhancer-gene arcs               results/contributions/*
==============  ==============================================================  =============================

Track plots of a region use ``enformer-lite plot-tracks``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from enformer_lite.cli.common import add_threads_flag, set_threads
from enformer_lite.errors import InputError
from enformer_lite.plots.style import save_figure

log = logging.getLogger(__name__)


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", action="append", required=True, metavar="FILE",
                        help="output figure, .png or .pdf; repeatable")


def _loci(args: argparse.Namespace) -> None:
    from enformer_lite.plots.loci import auto_loci, parse_locus, write_loci

    configured = [parse_locus(text, k) for k, text in enumerate(args.region or [], start=1)]
    chosen = auto_loci(args.data, args.genes or None, args.n, args.width or None, [locus.region for locus in configured])
    write_loci(configured + chosen, args.out)
    log.info("%d configured and %d automatic loci written to %s", len(configured), len(chosen), args.out)


def _accuracy(args: argparse.Namespace) -> None:
    from enformer_lite.plots.accuracy import plot_track_pearson, read_eval_table

    save_figure(plot_track_pearson([read_eval_table(p) for p in args.eval]), args.out)


def _tss(args: argparse.Namespace) -> None:
    from enformer_lite.plots.accuracy import plot_tss_scatter, read_tss_table

    save_figure(plot_tss_scatter(read_tss_table(args.values), title=args.title), args.out)


def _training(args: argparse.Namespace) -> None:
    from enformer_lite.plots.training import plot_training_curves, read_metrics

    save_figure(plot_training_curves(read_metrics(args.metrics), title=args.title), args.out)


def _variants(args: argparse.Namespace) -> None:
    from enformer_lite.plots.variants import (
        plot_score_distribution,
        plot_top_variants,
        read_variant_scores,
        top_alleles,
        variant_panels,
    )
    from enformer_lite.data.genes import read_genes

    scores = read_variant_scores(args.scores)
    title = args.title or str(args.scores)
    if args.distribution_out:
        save_figure(plot_score_distribution(scores, title=title), args.distribution_out)
    if args.top_out:
        if not args.checkpoint or not args.fasta:
            raise InputError("plot variants: --top-out needs --checkpoint and --fasta to re-predict the alleles")
        set_threads(args.threads)
        panels = variant_panels(scores, top_alleles(scores, args.top), args.checkpoint, args.fasta, args.device)
        genes = read_genes(args.genes) if args.genes else None
        save_figure(plot_top_variants(panels, genes, title=f"{title}: {len(panels)} strongest variants"), args.top_out)


def _contributions(args: argparse.Namespace) -> None:
    from enformer_lite.contributions.outputs import read_scores
    from enformer_lite.plots.contributions import choose_genes, gene_contributions, plot_contributions
    from enformer_lite.data.genes import read_genes

    table = read_scores(args.table)
    if args.score not in table.columns:
        raise InputError(f"{args.table}: no score column {args.score!r}")
    chosen = choose_genes(table, args.gene or [], args.n)
    items = [gene_contributions(table, gene, args.tracks_dir) for gene in chosen]
    genes = read_genes(args.genes) if args.genes else None
    save_figure(plot_contributions(items, args.score, genes, args.top_links, title=args.title), args.out)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite plot``: one sub-subcommand per figure."""
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE", required=True)

    p = sub.add_parser("loci", help="choose loci for track plots: configured regions + strongest test TSSs")
    p.add_argument("--data", required=True, help="data.h5 of the genome (test windows, observed targets)")
    p.add_argument("--genes", help="genes BED6; without it, whole test windows are ranked")
    p.add_argument("--n", type=int, default=2, help="number of automatic loci")
    p.add_argument("--width", type=int, help="bp per automatic locus (default: one window's target span)")
    p.add_argument("--region", action="append", metavar="[NAME=]CHROM:START-END", help="configured locus; repeatable")
    p.add_argument("--out", required=True, help="loci table (TSV)")
    p.set_defaults(handler=_loci)

    p = sub.add_parser("accuracy", help="per-track Pearson on the test set")
    p.add_argument("--eval", action="append", required=True, metavar="TSV",
                   help="evaluation table of one genome (enformer-lite evaluate); repeatable")
    _add_out(p)
    p.set_defaults(handler=_accuracy)

    p = sub.add_parser("tss", help="predicted vs observed CAGE at the TSS of test genes")
    p.add_argument("--values", required=True, metavar="TSV",
                   help="per-gene TSS values of one genome (enformer-lite evaluate --tss-out)")
    p.add_argument("--title", default="")
    _add_out(p)
    p.set_defaults(handler=_tss)

    p = sub.add_parser("training", help="training curves from Lightning's metrics.csv")
    p.add_argument("--metrics", required=True, help="metrics.csv of enformer-lite train")
    p.add_argument("--title", default="")
    _add_out(p)
    p.set_defaults(handler=_training)

    p = sub.add_parser("variants", help="variant score distribution and the strongest variants' predictions")
    p.add_argument("--scores", required=True, help="variant score file (.h5) of enformer-lite score-variants")
    p.add_argument("--distribution-out", action="append", metavar="FILE", help="score distribution figure; repeatable")
    p.add_argument("--top-out", action="append", metavar="FILE", help="strongest-variants figure; repeatable")
    p.add_argument("--top", type=int, default=4, help="number of strongest variants (largest |SAD| over tracks)")
    p.add_argument("--checkpoint", help="checkpoint that scored the variants (for --top-out)")
    p.add_argument("--fasta", help="reference FASTA (for --top-out)")
    p.add_argument("--genes", help="genes BED6 to draw under the predictions")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    add_threads_flag(p)
    p.add_argument("--title", default="", help="title (default: the score file)")
    p.set_defaults(handler=_variants)

    p = sub.add_parser("contributions", help="element contributions and enhancer-gene links of selected genes")
    p.add_argument("--table", required=True, help="enhancer-gene table of enformer-lite contributions gather")
    p.add_argument("--tracks-dir", help="directory of per-gene gradient x input bigWigs")
    p.add_argument("--score", default="deletion", help="score column that colours the elements and weighs the links")
    p.add_argument("--gene", action="append", metavar="ID", help="genes to show; repeatable (default: top --n)")
    p.add_argument("--n", type=int, default=2, help="without --gene: genes with the highest predicted TSS signal")
    p.add_argument("--top-links", type=int, default=5, help="arcs to the best-ranked elements with a positive score")
    p.add_argument("--genes", help="genes BED6 to draw under the tracks")
    p.add_argument("--title", default="")
    _add_out(p)
    p.set_defaults(handler=_contributions)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite plot``."""
    handler: Callable[[argparse.Namespace], None] = args.handler
    handler(args)
    return 0
