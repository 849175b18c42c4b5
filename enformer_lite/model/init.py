"""A fresh model's parameters drawn as the published TensorFlow/Sonnet Enformer draws them.

Sonnet's defaults, which the published code keeps for every ``snt.Linear`` and ``snt.Conv1D``
(stem, tower, pointwise convolutions, transformer MLP, heads): weights from a normal with
standard deviation ``1 / sqrt(fan_in)`` truncated at two standard deviations, biases zero. The
attention module passes ``VarianceScaling(scale=2.0)`` (fan-in, truncated normal) for its query,
key, value and relative-key projections and for the content and position biases (shape
(1, H, 1, K), whose fan-in Sonnet counts as H), and zeros for its output projection.
PyTorch's own defaults differ: uniform weights with standard deviation ``1 / sqrt(3 fan_in)``
and non-zero biases, which start the attention projections ~2.4× smaller and the relative
biases at std ``K**-0.5`` instead of ``sqrt(2 / H)``.

Differences that remain, on purpose:

* softmax pooling keeps ``2 · I`` (as the published ``w_init_scale=2.0``), not redrawn;
* batch-norm scale 1 and offset 0 as in Sonnet; its running statistics follow TF's zero-debiased
  moving average through the momentum schedule of :class:`~enformer_lite.model.layers.ConvBlock`;
* random streams differ (the values are drawn from the same distributions, not the same numbers).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from enformer_lite.model.attention import RelativeMultiheadAttention
from enformer_lite.model.layers import SoftmaxPool1d

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of a unit normal truncated at ±2 (Sonnet divides by it in VarianceScaling)."""


def _fan_in(weight: torch.Tensor) -> int:
    """Inputs per output unit: in_features for Linear (out, in), in_channels × kernel for Conv1d (out, in, k)."""
    return int(weight.shape[1] * (weight.shape[2] if weight.ndim == 3 else 1))


def truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Normal(0, std) truncated at ±2 std, in place (TF's ``truncated_normal``)."""
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def variance_scaling_(tensor: torch.Tensor, fan_in: int, scale: float = 2.0) -> torch.Tensor:
    """Sonnet ``VarianceScaling(scale, "fan_in", "truncated_normal")``: effective std ``sqrt(scale / fan_in)``."""
    return truncated_normal_(tensor, math.sqrt(scale / max(1, fan_in)) / TRUNCATED_STD)


@torch.no_grad()
def tf_init_(model: nn.Module) -> nn.Module:
    """Re-draw every parameter of a fresh ``model`` as the published TF code does (see the module docstring)."""
    pooling = {id(m.logits) for m in model.modules() if isinstance(m, SoftmaxPool1d)}
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d)) and id(module) not in pooling:
            truncated_normal_(module.weight, 1.0 / math.sqrt(_fan_in(module.weight)))
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for attention in (m for m in model.modules() if isinstance(m, RelativeMultiheadAttention)):
        for layer in (attention.to_q, attention.to_k, attention.to_v, attention.to_rel_k):
            variance_scaling_(layer.weight, _fan_in(layer.weight))
        for bias in (attention.content_bias, attention.position_bias):
            variance_scaling_(bias, attention.num_heads)
        nn.init.zeros_(attention.to_out.weight)
        nn.init.zeros_(attention.to_out.bias)
    return model
