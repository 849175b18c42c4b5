"""``enformer-lite import-weights``: turn an enformer-pytorch state dict into an enformer-lite model file.

Example::

    enformer-lite import-weights --input pytorch_model.bin --output results/model/enformer.pt

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

import torch

from enformer_lite.errors import InputError
from enformer_lite.model.checkpoint import load_torch_file, save_model
from enformer_lite.model.config import PRESETS, ModelConfig
from enformer_lite.model.convert import convert_state_dict, infer_config

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path, help="state dict of enformer_pytorch.Enformer (torch file)")
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


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    blob = load_torch_file(path)
    if isinstance(blob, dict) and isinstance(blob.get("state_dict"), dict):
        blob = blob["state_dict"]
    if not isinstance(blob, dict):
        raise InputError(f"{path}: expected a dict of tensors, found {type(blob).__name__}")
    return blob


def run(args: argparse.Namespace) -> int:
    overrides = _read_overrides(args.config_json)
    source = _load_state_dict(args.input)
    try:
        cfg = infer_config(source, ModelConfig.from_preset(args.preset))
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
        state = convert_state_dict(source, cfg)
    except InputError as err:
        raise InputError(f"{args.input}: {err}") from err
    except ValueError as err:
        raise InputError(f"{args.input} / --config-json: {err}") from err
    save_model(args.output, cfg, state)
    arch = {k: v for k, v in dataclasses.asdict(cfg).items() if k in ("channels", "num_transformer_layers", "num_heads", "heads")}
    log.info("wrote %s (%d tensors; %s)", args.output, len(state), arch)
    return 0
