"""``enformer-lite train``: fit the model on one ``data.h5`` per organism (see :mod:`enformer_lite.training.train`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from enformer_lite.cli.common import add_params_argument, load_params, parse_named_paths, section
from enformer_lite.errors import InputError
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite train``."""
    parser.add_argument("--data", action="append", required=True, metavar="ORGANISM=DATA.h5",
                        help="one per organism, e.g. --data human=results/human/data.h5; the name selects the head")
    parser.add_argument("--outdir", required=True, type=Path,
                        help="writes best.ckpt, last.ckpt, metrics.csv here; a killed run started again resumes "
                             "exactly where it stopped; one training per directory at a time")
    parser.add_argument("--embeddings", action="append", default=None, metavar="ORGANISM=EMBEDDINGS.h5",
                        help="train.finetune: head: the cached trunk embeddings of each organism (enformer-lite embed)")
    add_params_argument(parser, '{"model": {...}, "train": {...}} (the workflow config\'s sections)')
    group = parser.add_argument_group("overrides of train settings")
    group.add_argument("--max-steps", type=int)
    group.add_argument("--batch-size", type=int)
    group.add_argument("--lr", type=float)
    group.add_argument("--seed", type=int)
    group.add_argument("--num-workers", type=int)
    group.add_argument("--accelerator", help="cpu, gpu, auto")
    group.add_argument("--devices", help="number of devices or 'auto'")
    group.add_argument("--strategy", help="auto, ddp, ...")
    group.add_argument("--num-nodes", type=int)
    group.add_argument("--precision",
                       help="auto (bf16-mixed on a GPU, and on a CPU with AVX-512-BF16 or AMX-BF16 for windows of "
                            ">= 8,192 bp, where the bench measured it faster with the same loss curve; else "
                            "32-true), 32-true, bf16-mixed, ...")
    group.add_argument("--compile", choices=["auto", "true", "false"],
                       help="compile the model's trunk with torch.compile (inductor), falling back to eager with a "
                            "warning if compilation fails; auto = off (the bench measured no gain on CPU)")


def train_config_from_args(args: argparse.Namespace, train_params: Mapping[str, Any]) -> TrainConfig:
    """The ``train`` section with command-line overrides applied."""
    values = dict(train_params)
    for key in ("max_steps", "batch_size", "lr", "seed", "num_workers"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    trainer = dict(values.get("trainer") or {})
    for key in ("accelerator", "devices", "strategy", "num_nodes", "precision", "compile"):
        value = getattr(args, key)
        if value is not None:
            trainer[key] = int(value) if key == "devices" and str(value).isdigit() else value
    values["trainer"] = trainer
    return TrainConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite train``."""
    params = load_params(args.params)
    unknown = sorted(set(params) - {"model", "train"})
    if unknown:
        raise InputError(f"--params: unknown section(s) {', '.join(unknown)}; expected model, train")
    cfg = train_config_from_args(args, section(params, "train"))
    embeddings = parse_named_paths(args.embeddings, "--embeddings") if args.embeddings else None
    train(parse_named_paths(args.data, "--data"), args.outdir, section(params, "model"), cfg, embeddings=embeddings)
    return 0
