"""``enformer-lite gather-variants``: merge per-chunk score files and write the final outputs.

Merging is :func:`enformer_lite.variants.gather.gather_parts`; the outputs are those of
:func:`enformer_lite.variants.outputs.write_outputs`. With ``--background`` (a score file of
background variants scored the same way) every score of ``--quantile-scores`` is also written as
a signed quantile in [-1, 1]: ``Q_<SCORE>:<track>`` columns, ``/quantiles/<SCORE>`` in the HDF5
file and INFO ``EL_Q_<SCORE>`` in the VCF (:mod:`enformer_lite.interpret.calibrate`).
"""

from __future__ import annotations

import argparse

from enformer_lite.variants.gather import gather_parts
from enformer_lite.variants.outputs import output_paths, write_outputs


def _names(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def add_background_flags(parser: argparse.ArgumentParser, required: bool = False) -> None:
    """``--background``, ``--background-source`` and ``--quantile-scores``."""
    parser.add_argument("--background", required=required, metavar="H5",
                        help="background variant score HDF5, scored the same way: adds the signed quantiles")
    parser.add_argument("--background-source", default="", metavar="TEXT",
                        help="how the background was made, recorded in the outputs (default: its file name)")
    parser.add_argument("--quantile-scores", type=_names, default=["SAD"], metavar="SCORE[,SCORE...]",
                        help="comma-separated scores given as quantiles (default: SAD)")


def gather_and_write(args: argparse.Namespace, parts: list[str]) -> None:
    """Gather ``parts`` (calibrated when ``args.background``) into ``args.out_prefix`` and write every output."""
    from enformer_lite.interpret.calibrate import Background

    background = Background.load(args.background, args.quantile_scores, args.background_source) if args.background else None
    h5 = output_paths(args.out_prefix)["h5"]
    h5.parent.mkdir(parents=True, exist_ok=True)
    gather_parts(parts, h5, background)
    write_outputs(h5, args.vcf, args.out_prefix)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite gather-variants``."""
    parser.add_argument("--vcf", required=True, help="the VCF the parts were scored from (annotated copy is written)")
    parser.add_argument("--out-prefix", required=True, help="write PREFIX.h5, .tsv.gz, .genes.tsv.gz, .skipped.tsv, .vcf.gz(+.tbi)")
    add_background_flags(parser)
    parser.add_argument("parts", nargs="+", help="part score files from score-variants --part")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite gather-variants``."""
    gather_and_write(args, args.parts)
    return 0
