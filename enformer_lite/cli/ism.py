"""``enformer-lite ism``: in-silico saturation mutagenesis of TSSs, elements, regions and top variants.

Writes the HDF5 array (positions × 4 × tracks), a bigWig of the per-base effect and a logo figure;
see :mod:`enformer_lite.interpret.ism_io` for the layouts.
"""

from __future__ import annotations

import argparse

from enformer_lite.cli.common import add_params_argument, add_threads_flag, load_params, section, set_threads


def add_model_flags(parser: argparse.ArgumentParser, genes_help: str, candidates_help: str) -> None:
    """Flags ``ism`` and ``motifs`` share: the model and its inputs (``--checkpoint``, ``--fasta``, ``--head``,
    ``--data``, ``--genes``, ``--candidates``) and ``--threads``."""
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (best.ckpt) or model file (then --data)")
    parser.add_argument("--fasta", required=True, help="reference FASTA")
    parser.add_argument("--head", help="model head (organism), e.g. human")
    parser.add_argument("--data", help="data.h5 giving window geometry and tracks (needed for a model file)")
    parser.add_argument("--genes", help=genes_help)
    parser.add_argument("--candidates", help=candidates_help)
    add_threads_flag(parser)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite ism``."""
    add_model_flags(parser, "genes BED6 (for TSS regions: interpret.ism.genes / n_genes)",
                    "candidate elements BED (for interpret.ism.elements)")
    parser.add_argument("--variants", help="variant score HDF5 (for interpret.ism.top_variants)")
    parser.add_argument("--out-h5", required=True, help="ISM array (HDF5)")
    parser.add_argument("--out-bigwig", help="per-base effect (bigWig)")
    parser.add_argument("--out-logo", nargs="*", default=[], help="logo figure(s), .png or .pdf")
    parser.add_argument("--regions", nargs="+", metavar="CHROM:START-END", help="regions to mutate (adds to the config's)")
    add_params_argument(parser, '{"interpret": {"ism": {...}}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite ism``."""
    from enformer_lite.interpret.config import InterpretConfig
    from enformer_lite.interpret.run import ism_files

    values = section(load_params(args.params), "interpret")
    if args.regions:
        ism = dict(values.get("ism") or {})
        ism["regions"] = list(ism.get("regions") or []) + list(args.regions)
        values["ism"] = ism
    cfg = InterpretConfig.from_dict(values).ism
    set_threads(args.threads)
    ism_files(args.checkpoint, args.fasta, args.head, cfg, args.out_h5, args.out_bigwig, args.out_logo,
              args.genes, args.candidates, args.variants, args.data)
    return 0
