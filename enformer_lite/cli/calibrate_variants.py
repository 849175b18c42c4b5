"""``enformer-lite calibrate-variants``: re-calibrate an existing variant score file against another background.

Reads a variant score HDF5 (``score-variants`` / ``gather-variants``) and a background score HDF5
scored the same way, and writes the variant outputs again under ``--out-prefix`` with the signed
quantiles in [-1, 1] of ``--quantile-scores``: ``PREFIX.h5`` with ``/quantiles``, ``PREFIX.tsv.gz``
with ``Q_<SCORE>:<track>`` columns, ``PREFIX.vcf.gz`` with INFO ``EL_Q_<SCORE>``, and the genes and
skipped tables. It is ``gather-variants --background`` of the one score file; the workflow
calibrates in its gather step, this command is for a second background.
"""

from __future__ import annotations

import argparse

from enformer_lite.cli.gather_variants import add_background_flags, gather_and_write


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite calibrate-variants``."""
    parser.add_argument("--scores", required=True, help="variant score HDF5 to calibrate")
    parser.add_argument("--vcf", required=True, help="the VCF the scores were computed from (annotated copy is written)")
    parser.add_argument("--out-prefix", required=True, help="output prefix (must not be the score file's own prefix)")
    add_background_flags(parser, required=True)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite calibrate-variants``."""
    from pathlib import Path

    from enformer_lite.errors import InputError
    from enformer_lite.variants.outputs import output_paths

    if Path(output_paths(args.out_prefix)["h5"]).resolve() == Path(args.scores).resolve():
        raise InputError(f"calibrate-variants: --out-prefix {args.out_prefix} would overwrite --scores {args.scores}")
    gather_and_write(args, [args.scores])
    return 0
