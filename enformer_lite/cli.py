"""Command-line entry point: ``enformer-lite <subcommand> ...``.

Each subcommand lives in its own module exposing ``configure(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so
``enformer-lite windows`` does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from enformer_lite import __version__
from enformer_lite.errors import InputError

COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("enformer_lite.simulate.cli", "generate the simulated demo world with its ground truth"),
    "windows": ("enformer_lite.commands.windows", "tile a genome into windows and assign splits"),
    "extract": ("enformer_lite.commands.extract", "extract one chromosome's windows into HDF5"),
    "merge": ("enformer_lite.commands.merge", "merge per-chromosome HDF5 parts into one dataset"),
    "import-weights": ("enformer_lite.model.cli", "convert enformer-pytorch weights into an enformer-lite model file"),
    "contributions": ("enformer_lite.contributions.cli", "score which candidate elements drive which genes"),
    "plot-tracks": ("enformer_lite.plots.plot_tracks", "draw observed and/or predicted tracks over a region (PNG/PDF)"),
    "plot": ("enformer_lite.plots.commands", "draw one of the workflow's figures from its result files"),
    "train": ("enformer_lite.training.train", "train the model on one data.h5 per organism (resumes a killed run)"),
    "evaluate": ("enformer_lite.training.evaluate", "score a checkpoint on the test windows: Pearson per track and at TSSs"),
    "predict": ("enformer_lite.training.predict", "write predicted tracks as bigWig for chosen regions"),
    "score-variants": ("enformer_lite.variants.score", "score VCF variants (or one chunk of a VCF) with a trained model"),
    "gather-variants": ("enformer_lite.variants.gather", "merge variant-score chunks into tables, HDF5 and an annotated VCF"),
    "eval-variants": ("enformer_lite.variants.evaluate", "correlate predicted variant effects with the simulator's truth"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="enformer-lite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"enformer-lite {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).configure(sub_parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except InputError as err:
        logging.getLogger("enformer_lite").error("%s", err)
        print(f"enformer-lite {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
