"""``enformer-lite embed``: cache a pretrained trunk's embeddings of a ``data.h5`` (``train.finetune: head``).

Example::

    enformer-lite embed --data results/human/data.h5 --out results/human/embeddings.h5 \\
        --params '{"model": {"pretrained": "enformer-official-rough/"}}'

The cache (see :mod:`enformer_lite.training.embeddings`) holds the frozen trunk's output for every
train and valid window; ``enformer-lite train --embeddings human=...`` then trains only the heads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from enformer_lite.cli.common import add_params_argument, load_params, section
from enformer_lite.data.h5 import read_meta
from enformer_lite.errors import InputError
from enformer_lite.inference.published import PretrainedSource
from enformer_lite.inference.tta import resolve_device


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite embed``."""
    parser.add_argument("--data", required=True, type=Path, help="the genome's data.h5")
    parser.add_argument("--out", required=True, type=Path, help="embeddings file to write (embeddings.h5)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    add_params_argument(parser, '{"model": {"pretrained": ...}}')


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite embed``."""
    from enformer_lite.model.network import build_model
    from enformer_lite.inference.embeddings import write_embeddings

    source, _ = PretrainedSource.from_model_params(section(load_params(args.params), "model"))
    if source is None:
        raise InputError("--params: model.pretrained is not set (the trunk to embed with)")
    pretrained = source.read(read_meta(args.data).target_length)
    model = build_model(pretrained.config)
    model.load_state_dict(pretrained.state_dict)
    write_embeddings(model, args.data, args.out, source.path, args.batch_size, resolve_device(args.device))
    return 0
