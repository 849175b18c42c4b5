"""``enformer-lite explain-variants``: for every scored variant the motif it disrupts or creates (PWM scan of
REF vs ALT with the shipped JASPAR matrices), the TF-MoDISco seqlet it falls in, the candidate element and
the genes whose TSS signal it changes most, in one ``explain.tsv`` (see :mod:`enformer_lite.interpret.explain`)."""

from __future__ import annotations

import argparse

from enformer_lite.cli.common import add_params_argument, load_params, section


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite explain-variants``."""
    parser.add_argument("--scores", required=True, help="variant score HDF5 (score-variants / gather-variants)")
    parser.add_argument("--fasta", required=True, help="reference FASTA the variants refer to")
    parser.add_argument("--candidates", help="candidate elements BED")
    parser.add_argument("--motifs", dest="motifs_dir", help="output directory of enformer-lite motifs (seqlets, matches)")
    parser.add_argument("--truth", help="simulator truth: elements.tsv (or motifs.tsv) with the planted sites")
    parser.add_argument("--out", required=True, help="explain.tsv")
    parser.add_argument("--eval-out", help="accuracy of the motif calls against --truth (TSV)")
    add_params_argument(parser, '{"interpret": {"explain": {...}, "motifs": {...}}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite explain-variants``."""
    from enformer_lite.interpret.config import InterpretConfig
    from enformer_lite.interpret.steps import explain_files

    cfg = InterpretConfig.from_dict(section(load_params(args.params), "interpret"))
    explain_files(args.scores, args.fasta, args.out, cfg.explain, args.candidates, args.motifs_dir, args.truth,
                  args.eval_out, cfg.motifs.q_threshold)
    return 0
