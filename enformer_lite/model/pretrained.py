"""Pretrained weights as users have them, read into an enformer-lite config and state dict.

Accepted forms (nothing is downloaded; the user fetches the weights once):

* a Hugging Face-style directory as enformer-pytorch's ``save_pretrained`` writes it:
  ``config.json`` plus ``model.safetensors`` (preferred) or ``pytorch_model.bin``;
* a bare enformer-pytorch state dict, as a torch file or a ``.safetensors`` file;
* an enformer-lite model file (``import-weights`` output) or training checkpoint.

The gamma positional features: enformer-pytorch computes them its own way unless its config says
``use_tf_gamma: true`` (then the published TensorFlow definition). A ``config.json`` decides
(``positional_gamma`` ``"tf"`` or ``"enformer_pytorch"``); without one (a bare state dict) the
published definition ``"tf"`` is assumed, which is right for the official weights; a state dict
trained with enformer-pytorch's defaults then needs ``{"positional_gamma": "enformer_pytorch"}``
as an override (its outputs otherwise differ by ~1e-3).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from enformer_lite.errors import InputError
from enformer_lite.model.checkpoint import load_torch_file
from enformer_lite.model.config import ModelConfig
from enformer_lite.model.convert import ConversionError, convert_state_dict, infer_config

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# enformer-pytorch's EnformerConfig field → ModelConfig field
_CONFIG_FIELDS = {
    "dim": "channels", "depth": "num_transformer_layers", "heads": "num_heads", "attn_dim_key": "key_size",
    "output_heads": "heads", "target_length": "target_length", "dropout_rate": "dropout",
    "attn_dropout": "attention_dropout", "pos_dropout": "positional_dropout", "dim_divisible_by": "channel_divisor",
}


@dataclass(frozen=True)
class Pretrained:
    """A pretrained model: its config, its tensors under enformer-lite's names, and where they came from."""

    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    source: str


def config_from_json(path: Path, base: ModelConfig) -> ModelConfig:
    """``base`` with the fields of an enformer-pytorch ``config.json`` (InputError names the file)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    if data.get("use_convnext"):
        raise InputError(f"{path}: use_convnext models (a different stem) are not supported")
    values: dict[str, Any] = {ours: data[theirs] for theirs, ours in _CONFIG_FIELDS.items() if theirs in data}
    if "num_downsamples" in data:
        values["num_conv_tower"] = int(data["num_downsamples"]) - 1  # the stem pools once
    values["positional_gamma"] = "tf" if data.get("use_tf_gamma") else "enformer_pytorch"
    try:
        return dataclasses.replace(base, **values)
    except (TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err


def _read_tensors(path: Path) -> Any:
    """The object stored in a weights file: safetensors by suffix, else a torch file (weights only)."""
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise InputError(f"{path}: not a readable safetensors file ({err})") from err
    return load_torch_file(path)


def read_pretrained(
    path: str | os.PathLike[str], base: ModelConfig | None = None, overrides: Mapping[str, Any] | None = None
) -> Pretrained:
    """Read any accepted form (see the module docstring); ``overrides`` (ModelConfig fields) apply last."""
    source = Path(path)
    base = base or ModelConfig.from_preset("enformer")
    if source.is_dir():
        weights = next((source / name for name in WEIGHT_FILES if (source / name).is_file()), None)
        if not (source / "config.json").is_file() or weights is None:
            raise InputError(f"{source}: a pretrained-model directory needs config.json and one of "
                             f"{', '.join(WEIGHT_FILES)}")
        base = config_from_json(source / "config.json", base)
        blob = _read_tensors(weights)
    elif source.is_file():
        blob = _read_tensors(source)
    else:
        raise InputError(f"{source}: no such file or directory")
    if not isinstance(blob, dict):
        raise InputError(f"{source}: expected a dict of tensors, found {type(blob).__name__}")
    if "model_config" in blob and isinstance(blob.get("state_dict"), dict):  # enformer-lite model file
        cfg = ModelConfig.from_dict({**blob["model_config"], **(overrides or {})})
        return Pretrained(cfg, dict(blob["state_dict"]), f"{source} (enformer-lite model file)")
    hparams = blob.get("hyper_parameters")
    if isinstance(hparams, dict) and "model_config" in hparams:  # enformer-lite training checkpoint
        cfg = ModelConfig.from_dict({**hparams["model_config"], **(overrides or {})})
        state = {k[len("model."):]: v for k, v in blob["state_dict"].items() if k.startswith("model.")}
        return Pretrained(cfg, state, f"{source} (enformer-lite checkpoint)")
    tensors = blob["state_dict"] if isinstance(blob.get("state_dict"), dict) else blob
    try:
        cfg = infer_config(tensors, base)
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **(overrides or {})})
        state = convert_state_dict(tensors, cfg)
    except (ConversionError, ValueError) as err:
        raise InputError(f"{source}: {err}") from err
    if not source.is_dir() and "positional_gamma" not in (overrides or {}):
        log.info("%s: no config.json, so the published positional features (positional_gamma: tf) are assumed; "
                 "a model trained with enformer-pytorch's defaults needs positional_gamma: enformer_pytorch", source)
    return Pretrained(cfg, state, f"{source} (enformer-pytorch weights)")
