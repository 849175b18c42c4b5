"""``enformer-lite calibrate-variants``: variant scores as signed quantiles in [-1, 1] against a background.

Reads a variant score HDF5 (``score-variants`` / ``gather-variants``) and a background score HDF5
scored the same way; writes ``OUT.quantiles.tsv.gz``, ``OUT.quantiles.h5`` and, with ``--vcf``,
``OUT.vcf.gz`` with INFO ``EL_Q_SAD`` (see :mod:`enformer_lite.interpret.calibrate`).
"""

from __future__ import annotations

import argparse

from enformer_lite.cli.common import add_params_argument, load_params, section


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite calibrate-variants``."""
    parser.add_argument("--scores", required=True, help="variant score HDF5 to calibrate")
    parser.add_argument("--background", required=True, help="background variant score HDF5, scored the same way")
    parser.add_argument("--out", required=True, metavar="PREFIX", help="output prefix")
    parser.add_argument("--vcf", help="VCF to copy with INFO EL_Q_<SCORE> (the scored VCF or its annotated copy)")
    parser.add_argument("--background-source", default="",
                        help="how the background was made, recorded in the outputs (default: its file name)")
    parser.add_argument("--score", dest="scores_names", nargs="+", help="scores to calibrate (default: config, SAD)")
    add_params_argument(parser, '{"interpret": {"calibration": {...}}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite calibrate-variants``."""
    from enformer_lite.interpret.calibrate import calibrate_files
    from enformer_lite.interpret.config import InterpretConfig

    cfg = InterpretConfig.from_dict(section(load_params(args.params), "interpret")).calibration
    names = tuple(args.scores_names or cfg.scores)
    calibrate_files(args.scores, args.background, args.out, names, args.vcf, args.background_source)
    return 0
