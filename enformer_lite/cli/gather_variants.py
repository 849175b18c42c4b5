"""``enformer-lite gather-variants``: merge per-chunk score files and write the final outputs.

Merging is :func:`enformer_lite.variants.gather.gather_parts`; the outputs are those of
:func:`enformer_lite.variants.outputs.write_outputs`.
"""

from __future__ import annotations

import argparse

from enformer_lite.variants.gather import gather_parts
from enformer_lite.variants.outputs import output_paths, write_outputs


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite gather-variants``."""
    parser.add_argument("--vcf", required=True, help="the VCF the parts were scored from (annotated copy is written)")
    parser.add_argument("--out-prefix", required=True, help="write PREFIX.h5, .tsv.gz, .genes.tsv.gz, .skipped.tsv, .vcf.gz(+.tbi)")
    parser.add_argument("parts", nargs="+", help="part score files from score-variants --part")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite gather-variants``."""
    h5 = output_paths(args.out_prefix)["h5"]
    h5.parent.mkdir(parents=True, exist_ok=True)
    gather_parts(args.parts, h5)
    write_outputs(h5, args.vcf, args.out_prefix)
    return 0
