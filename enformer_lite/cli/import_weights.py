"""``enformer-lite import-weights``: turn an enformer-pytorch state dict into an enformer-lite model file.

Example::

    enformer-lite import-weights --input enformer-official-rough/ --output results/model/enformer.pt

The input is any form :func:`enformer_lite.model.pretrained.read_pretrained` accepts; a
``config.json`` chooses the positional-feature variant, otherwise the published one is assumed.

The output is ``{"model_config": ModelConfig.to_dict(), "state_dict": ...}`` saved with
``torch.save`` (see :mod:`enformer_lite.model.checkpoint`); load it with
``enformer_lite.model.load_model``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from enformer_lite.errors import InputError
from enformer_lite.model.checkpoint import save_model
from enformer_lite.model.config import PRESETS, ModelConfig
from enformer_lite.model.pretrained import read_pretrained

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path,
                        help="enformer-pytorch weights: a save_pretrained directory (config.json + model.safetensors "
                             "or pytorch_model.bin), or a bare state dict (torch or .safetensors file)")
    parser.add_argument("--output", required=True, type=Path, help="model file to write")
    parser.add_argument(
        "--preset", default="enformer", choices=sorted(PRESETS),
        help="base config for settings not read from the weights (dropouts, target length); default enformer",
    )
    parser.add_argument(
        "--config-json", default=None,
        help="JSON object (inline or a file path) of ModelConfig fields applied last, e.g. '{\"target_length\": 448}'",
    )


def _read_overrides(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    source = "--config-json"
    if not text.lstrip().startswith("{"):
        source = text
        try:
            text = Path(text).read_text()
        except OSError as err:
            raise InputError(f"{source}: cannot read ({err.strerror})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{source}: invalid JSON ({err})") from err
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object of ModelConfig fields")
    return data


def run(args: argparse.Namespace) -> int:
    pretrained = read_pretrained(args.input, ModelConfig.from_preset(args.preset), _read_overrides(args.config_json))
    cfg = pretrained.config
    save_model(args.output, cfg, pretrained.state_dict)
    arch = {k: v for k, v in dataclasses.asdict(cfg).items()
            if k in ("channels", "num_transformer_layers", "num_heads", "heads", "positional_gamma")}
    log.info("wrote %s from %s (%d tensors; %s)", args.output, pretrained.source, len(pretrained.state_dict), arch)
    return 0
