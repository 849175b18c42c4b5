"""``enformer-lite background-variants``: SNPs sampled from the genome's windows (fixed seed) as a VCF,
the default calibration background once scored with ``score-variants`` (``gather-variants --background``)."""

from __future__ import annotations

import argparse

from enformer_lite.cli.common import add_params_argument, load_params, section


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite background-variants``."""
    parser.add_argument("--fasta", required=True, help="reference FASTA")
    parser.add_argument("--windows", required=True, help="windows BED (results/GENOME/windows.bed)")
    parser.add_argument("--out", required=True, help="VCF to write (.vcf.gz, with .tbi)")
    parser.add_argument("--n", type=int, help="number of SNPs (default: interpret.calibration.n_background)")
    parser.add_argument("--seed", type=int, help="seed (default: interpret.calibration.seed)")
    add_params_argument(parser, '{"interpret": {"calibration": {...}}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite background-variants``."""
    import logging

    from enformer_lite.interpret.background import background_vcf
    from enformer_lite.interpret.config import InterpretConfig

    cfg = InterpretConfig.from_dict(section(load_params(args.params), "interpret")).calibration
    n = cfg.n_background if args.n is None else args.n
    seed = cfg.seed if args.seed is None else args.seed
    written = background_vcf(args.fasta, args.windows, args.out, n, seed, cfg.edge_bp)
    logging.getLogger(__name__).info("wrote %d background SNPs to %s", written, args.out)
    return 0
