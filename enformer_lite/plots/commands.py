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

from enformer_lite.errors import InputError
from enformer_lite.plots.style import save_figure

log = logging.getLogger(__name__)


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", action="append", required=True, metavar="FILE",
                        help="output figure, .png or .pdf; repeatable")


def _loci(args: argparse.Namespace) -> None:
    from enformer_lite.plots.loci import auto_loci, parse_locus, write_loci

    configured = [parse_locus(text, k) for k, text in enumerate(args.region or [], start=1)]
    chosen = auto_loci(args.data, args.genes or None, args.n, args.width or None, [l.region for l in configured])
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


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite plot``."""
    handler: Callable[[argparse.Namespace], None] = args.handler
    handler(args)
    return 0
