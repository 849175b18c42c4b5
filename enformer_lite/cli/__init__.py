"""Command-line entry point: ``enformer-lite <subcommand> ...``.

One pattern for every subcommand: ``enformer_lite/cli/<subcommand>.py`` exposes
``configure(parser)`` (its flags) and ``run(args) -> int`` (parse the flags into the
library's typed configs and call the library). No logic lives here: each stage's code is
in its own layer (``data``, ``training``, ``inference``, ``variants``, ``contributions``,
``plots``, ``simulate``). Modules are imported only when their subcommand runs, so
``enformer-lite windows`` does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence

from enformer_lite import __version__
from enformer_lite.cli.common import report_error, sigterm_exits
from enformer_lite.errors import InputError

COMMANDS: dict[str, str] = {
    "simulate": "generate the simulated demo world with its ground truth",
    "windows": "tile a genome into windows and assign splits",
    "extract": "extract one chromosome's windows into HDF5",
    "merge": "merge per-chromosome HDF5 parts into one dataset",
    "genes": "one TSS per gene (from BED, GTF or GFF3) as BED6 named as in the FASTA",
    "import-weights": "convert enformer-pytorch weights into an enformer-lite model file",
    "use-pretrained": "a pretrained model's published heads as a checkpoint every later stage opens",
    "embed": "cache a pretrained trunk's embeddings of every train/valid window (finetune: head)",
    "train": "train the model on one data.h5 per organism (resumes a killed run)",
    "evaluate": "score a checkpoint on the test windows: Pearson per track and at TSSs",
    "predict": "write predicted tracks as bigWig for chosen regions",
    "score-variants": "score VCF variants (or one chunk of a VCF) with a trained model",
    "gather-variants": "merge variant-score chunks into tables, HDF5 and an annotated VCF",
    "eval-variants": "correlate predicted variant effects with the simulator's truth",
    "contributions": "score which candidate elements drive which genes",
    "plot-tracks": "draw observed and/or predicted tracks over a region (PNG/PDF)",
    "plot": "draw one of the workflow's figures from its result files",
    "ism": "in-silico saturation mutagenesis of TSSs, elements, regions and top variants",
    "background-variants": "sample background SNPs from the genome's windows (fixed seed) as a VCF",
    "calibrate-variants": "variant scores as signed quantiles against a background scored the same way",
    "motifs": "TF-MoDISco motifs from attributions, matched to JASPAR by TOMTOM, checked against truth",
    "pool-motif-evals": "pool the per-genome motif truth evaluations into one world-level recall table",
    "explain-variants": "per variant: motif disrupted/created, candidate element, genes most changed",
}
"""Subcommand → help text; its module is ``enformer_lite.cli.<subcommand with - as _>``."""


def command_module(name: str) -> str:
    """Module implementing subcommand ``name``."""
    return f"enformer_lite.cli.{name.replace('-', '_')}"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="enformer-lite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"enformer-lite {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(command_module(name)).configure(sub_parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(command_module(args.command))
    try:
        with contextlib.nullcontext() if args.command == "train" else sigterm_exits():
            return int(module.run(args) or 0)
    except (InputError, OSError) as err:  # bad input: 2; full disk, read-only, permission denied: 1
        return report_error(args.command, err)


if __name__ == "__main__":
    raise SystemExit(main())
