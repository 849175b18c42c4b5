"""Model files: a torch-saved dict ``{"model_config": ModelConfig.to_dict(), "state_dict": {...}}``.

``state_dict`` holds the tensors of :class:`EnformerLite` under its own parameter names (float32
unless saved otherwise). Load with :func:`load_model`, or by hand::

    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(ModelConfig.from_dict(blob["model_config"]))
    model.load_state_dict(blob["state_dict"])
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.model.config import ModelConfig
from enformer_lite.model.network import EnformerLite, build_model


def save_model(path: str | os.PathLike[str], cfg: ModelConfig, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Write a model file atomically (temporary name in the same folder, then rename)."""
    blob = {"model_config": cfg.to_dict(), "state_dict": dict(state_dict)}
    with atomic_output(path) as tmp:
        torch.save(blob, tmp)


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> EnformerLite:
    """Rebuild the model saved by :func:`save_model` (in eval mode)."""
    blob = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(blob, dict) or "model_config" not in blob or "state_dict" not in blob:
        raise InputError(f"{path}: not a model file (expected keys 'model_config' and 'state_dict')")
    try:
        model = build_model(ModelConfig.from_dict(blob["model_config"]))
        model.load_state_dict(blob["state_dict"])
    except (ValueError, RuntimeError) as err:
        raise InputError(f"{path}: {err}") from err
    return model.eval()
