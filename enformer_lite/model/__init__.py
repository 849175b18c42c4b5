"""Enformer-style model as plain ``nn.Module``s.

Typical use::

    from enformer_lite.model import ModelConfig, build_model
    cfg = ModelConfig.from_preset("lite", heads={"human": 8, "mouse": 4}, target_length=896)
    model = build_model(cfg)
    y = model(x, head="human")   # x: (B, L, 4) one-hot float -> (B, 896, 8)
"""

from enformer_lite.model.checkpoint import load_model, save_model
from enformer_lite.model.config import PRESETS, ModelConfig
from enformer_lite.model.network import EnformerLite, build_model, receptive_field
from enformer_lite.model.positional import positional_features, relative_shift

__all__ = [
    "PRESETS",
    "EnformerLite",
    "ModelConfig",
    "build_model",
    "load_model",
    "positional_features",
    "receptive_field",
    "relative_shift",
    "save_model",
]
