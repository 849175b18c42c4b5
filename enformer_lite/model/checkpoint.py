"""Model files: a torch-saved dict ``{"model_config": ModelConfig.to_dict(), "state_dict": {...}}``.

``state_dict`` holds the tensors of :class:`EnformerLite` under its own parameter names (float32
unless saved otherwise). Load with :func:`load_model`, or by hand::

    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(ModelConfig.from_dict(blob["model_config"]))
    model.load_state_dict(blob["state_dict"])
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from typing import Any

import torch

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.model.config import ModelConfig
from enformer_lite.model.network import EnformerLite, build_model


def load_torch_file(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` restricted to tensors and plain data (``weights_only``), so an untrusted file
    cannot run code while it is read. InputError names the file: missing, unreadable, or refused
    because it holds other Python objects (a pickle payload)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as err:
        raise InputError(f"{path}: no such file") from err
    except pickle.UnpicklingError as err:
        raise InputError(
            f"{path}: refused: the file holds Python objects other than tensors and plain data, which "
            f"loading would execute ({str(err).splitlines()[0][:200]}); enformer-lite reads only weights"
        ) from err
    except Exception as err:  # torch raises several unrelated types for unreadable files
        raise InputError(f"{path}: not a readable torch file ({err})") from err


def save_model(path: str | os.PathLike[str], cfg: ModelConfig, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Write a model file atomically (temporary name in the same folder, then rename)."""
    blob = {"model_config": cfg.to_dict(), "state_dict": dict(state_dict)}
    with atomic_output(path) as tmp:
        torch.save(blob, tmp)


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> EnformerLite:
    """Rebuild the model saved by :func:`save_model` (in eval mode)."""
    blob = load_torch_file(path, map_location)
    if not isinstance(blob, dict) or "model_config" not in blob or "state_dict" not in blob:
        raise InputError(f"{path}: not a model file (expected keys 'model_config' and 'state_dict')")
    try:
        model = build_model(ModelConfig.from_dict(blob["model_config"]))
        model.load_state_dict(blob["state_dict"])
    except (ValueError, RuntimeError) as err:
        raise InputError(f"{path}: {err}") from err
    return model.eval()
