"""Reading the training checkpoints that ``enformer-lite train`` writes (Lightning ``.ckpt``).

A checkpoint's ``hyper_parameters`` hold everything needed to use the model without its data:
``model_config`` (the architecture), ``track_ids`` (organism → track ids), ``data_meta``
(organism → window_length, bin_size, target_length, tracks, fingerprint) and ``optim``. A fine-tuned
checkpoint lists the published heads it kept (not trained) under ``published_track_ids``; they are
heads like the others for every later stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from enformer_lite.errors import InputError
from enformer_lite.model.checkpoint import load_torch_file

ModelBuilder = Callable[[Mapping[str, Any]], nn.Module]


def build_from_config(config: Mapping[str, Any]) -> nn.Module:
    """Default builder: ``enformer_lite.model.build_model(ModelConfig.from_dict(config))``."""
    from enformer_lite.model import ModelConfig, build_model

    return build_model(ModelConfig.from_dict(dict(config)))


def load_checkpoint(
    ckpt_path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    builder: ModelBuilder | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the trained model from a checkpoint alone, in eval mode.

    Returns ``(model, meta)`` where ``meta`` has ``model_config``, ``track_ids``
    (organism → ids), ``data_meta`` (organism → window_length, bin_size,
    target_length, tracks, fingerprint), ``optim`` and ``global_step``.
    """
    checkpoint = load_torch_file(ckpt_path, map_location)
    if not isinstance(checkpoint, dict):
        raise InputError(f"{ckpt_path}: not an enformer-lite training checkpoint (not a dict)")
    if "hyper_parameters" not in checkpoint or "model_config" not in checkpoint["hyper_parameters"]:
        raise InputError(f"{ckpt_path}: not an enformer-lite training checkpoint (no model_config hyperparameter)")
    hparams = checkpoint["hyper_parameters"]
    model = (builder or build_from_config)(hparams["model_config"])
    prefix = "model."
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    model.load_state_dict(state)
    model.to(map_location).eval()
    meta = {key: hparams.get(key) for key in ("model_config", "track_ids", "data_meta", "optim")}
    meta["track_ids"] = {**(hparams.get("published_track_ids") or {}), **(meta["track_ids"] or {})}
    meta["global_step"] = int(checkpoint.get("global_step", 0))
    return model, meta
