"""``enformer-lite use-pretrained``: a pretrained model's published heads as a checkpoint (``train.finetune: none``).

Example::

    enformer-lite use-pretrained --data hg38=results/hg38/data.h5 --out results/model/best.ckpt \\
        --params '{"model": {"pretrained": "enformer-official-rough/",
                             "pretrained_tracks": {"human": "targets_human.txt"},
                             "pretrained_heads": {"hg38": "human"}}}'

Each ``--data`` genome gets the published head that scores it, under the genome's name, with the
window geometry of its ``data.h5`` and the published tracks table (see
:mod:`enformer_lite.inference.published`); evaluate, predict, score-variants, contributions and
the plots open the result as they open a trained ``best.ckpt``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from enformer_lite.cli.common import add_params_argument, load_params, parse_named_paths, section
from enformer_lite.data.h5 import read_meta
from enformer_lite.errors import InputError
from enformer_lite.inference.published import PretrainedSource, published_checkpoint, write_checkpoint


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite use-pretrained``."""
    parser.add_argument("--data", action="append", required=True, metavar="GENOME=DATA.h5",
                        help="one per genome; its window geometry is the checkpoint's, its name the head's")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write (e.g. results/model/best.ckpt)")
    add_params_argument(parser, '{"model": {"pretrained": ..., "pretrained_tracks": {...}, "pretrained_heads": {...}}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite use-pretrained``."""
    params = load_params(args.params)
    source, _ = PretrainedSource.from_model_params(section(params, "model"))
    if source is None:
        raise InputError("--params: model.pretrained is not set (the weights whose heads to use)")
    metas = {genome: read_meta(path) for genome, path in parse_named_paths(args.data, "--data").items()}
    write_checkpoint(published_checkpoint(source, metas), args.out)
    return 0
