"""A fresh model is drawn as the published TF/Sonnet code draws it (formulas by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from enformer_lite.model import ModelConfig, build_model

TRUNC = 0.87962566103423978  # std of a unit normal truncated at ±2


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset("lite", heads={"human": 500})
    return build_model(cfg), cfg


def _check(values: torch.Tensor, sigma: float, what: str) -> None:
    """Values of a truncated normal with parameter ``sigma``: bounded by 2 sigma, std sigma · 0.8796."""
    flat = values.detach().double().flatten()
    assert flat.abs().max() <= 2 * sigma * (1 + 1e-6), what
    assert flat.std().item() == pytest.approx(sigma * TRUNC, rel=0.08), what
    assert abs(flat.mean().item()) < 0.1 * sigma, what


def test_sonnet_defaults_for_linear_and_conv_layers(model) -> None:
    net, cfg = model
    stem = net.stem.conv
    _check(stem.weight, 1 / math.sqrt(4 * 15), "stem conv")
    first_tower = net.tower[0]
    conv = next(m for m in first_tower.modules() if isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] == 5)
    _check(conv.weight, 1 / math.sqrt(conv.in_channels * 5), "tower conv k=5")
    _check(net.heads["human"].weight, 1 / math.sqrt(2 * cfg.channels), "head")
    block = net.transformer[0]
    _check(block.mlp_in.weight, 1 / math.sqrt(cfg.channels), "mlp in")
    for layer in (stem, net.heads["human"], block.mlp_in, block.mlp_out):
        assert torch.count_nonzero(layer.bias) == 0


def test_attention_uses_variance_scaling_and_a_zero_output(model) -> None:
    net, cfg = model
    attention = net.transformer[0].attn
    for name in ("to_q", "to_k", "to_v"):
        _check(getattr(attention, name).weight, math.sqrt(2 / cfg.channels) / TRUNC, name)
    _check(attention.to_rel_k.weight, math.sqrt(2 / attention.num_positional_features) / TRUNC, "relative keys")
    both = torch.cat([attention.content_bias.flatten(), attention.position_bias.flatten()])
    sigma = math.sqrt(2 / attention.num_heads) / TRUNC  # Sonnet's fan-in of a (1, H, 1, K) variable is H
    assert both.abs().max() <= 2 * sigma
    assert both.std().item() == pytest.approx(math.sqrt(2 / attention.num_heads), rel=0.25)  # few values
    assert torch.count_nonzero(attention.to_out.weight) == 0 and torch.count_nonzero(attention.to_out.bias) == 0


def test_softmax_pooling_keeps_twice_the_identity(model) -> None:
    net, _ = model
    weight = net.stem.pool.logits.weight[:, :, 0]
    np.testing.assert_array_equal(weight.detach().numpy(), 2 * np.eye(weight.shape[0]))
