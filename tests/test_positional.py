"""Relative positional features and the relative shift, against independent NumPy/SciPy versions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from enformer_lite.model.positional import band_shift, positional_features, relative_shift


def reference_features(length: int, num_features: int) -> np.ndarray:
    """The published (TensorFlow) basis written out with NumPy and scipy.stats; (2L-1, F)."""
    n = num_features // 6
    d = np.arange(-length + 1, length, dtype=np.float64)
    a = np.abs(d)[:, None]
    half_life = 2.0 ** np.linspace(3.0, np.log2(length), n)
    exponential = np.exp(-np.log(2.0) * a / half_life)
    widths = 2.0 ** np.arange(1, n + 1) - 1
    central = (widths > a).astype(np.float64)
    sd = length / (2 * n)
    mean = np.linspace(length / n, length, n)
    shape, rate = (mean / sd) ** 2, mean / sd**2
    pdf = stats.gamma.pdf(a, a=shape, scale=1.0 / rate) + 1e-8
    gamma = pdf / pdf.max(axis=0)  # each basis function scaled to a maximum of 1 over positions
    symmetric = np.concatenate([exponential, central, gamma], axis=1)
    return np.concatenate([symmetric, np.sign(d)[:, None] * symmetric], axis=1)


@pytest.mark.parametrize(("length", "num_features"), [(1, 6), (7, 12), (64, 24), (300, 48), (1536, 192), (2048, 96)])
def test_features_match_published_formulas(length: int, num_features: int) -> None:
    ours = positional_features(length, num_features, dtype=torch.float64).numpy()
    assert ours.shape == (2 * length - 1, num_features)
    np.testing.assert_allclose(ours, reference_features(length, num_features), rtol=1e-9, atol=1e-12)


def test_gamma_matches_tensorflow_table_at_1536() -> None:
    """enformer-pytorch ships the gamma block the TensorFlow model computes at 1536 bins (float32)."""
    modeling = pytest.importorskip("enformer_pytorch.modeling_enformer")
    table = modeling.TF_GAMMAS.double().numpy()  # (3071, 32)
    ours = positional_features(1536, 192, dtype=torch.float64).numpy()[:, 64:96]
    # TensorFlow evaluates lgamma of concentrations up to 4096 in float32: ~2e-3 absolute error.
    np.testing.assert_allclose(ours, table, atol=3e-3)
    assert np.abs(ours - table).mean() < 2e-4


def test_gamma_differs_from_enformer_pytorch_away_from_1536() -> None:
    modeling = pytest.importorskip("enformer_pytorch.modeling_enformer")
    length, num_features = 256, 48
    theirs = modeling.get_positional_embed(length, num_features, "cpu", use_tf_gamma=False).double().numpy()
    ours = positional_features(length, num_features, dtype=torch.float64).numpy()
    variant = positional_features(length, num_features, gamma="enformer_pytorch", dtype=torch.float64).numpy()
    gamma_cols = np.r_[16:24, 40:48]
    other_cols = np.setdiff1d(np.arange(num_features), gamma_cols)
    np.testing.assert_allclose(ours[:, other_cols], theirs[:, other_cols], atol=1e-6)
    assert np.abs(ours[:, gamma_cols] - theirs[:, gamma_cols]).max() > 0.1
    # enformer-pytorch evaluates lgamma in float32, hence the looser tolerance.
    np.testing.assert_allclose(variant, theirs, atol=5e-4)


def test_features_reject_bad_sizes() -> None:
    with pytest.raises(ValueError, match="divisible by 6"):
        positional_features(16, 10)
    with pytest.raises(ValueError, match="gamma"):
        positional_features(16, 12, gamma="nope")


@pytest.mark.parametrize("length", [1, 2, 5, 16])
def test_relative_shift_matches_naive_loop(length: int) -> None:
    torch.manual_seed(length)
    logits = torch.randn(2, 3, length, 2 * length - 1)
    expected = torch.empty(2, 3, length, length)
    for i in range(length):
        for j in range(length):
            expected[..., i, j] = logits[..., i, j - i + length - 1]  # distance j - i
    torch.testing.assert_close(relative_shift(logits), expected, rtol=0, atol=0)


def test_relative_shift_gradient_reaches_only_used_entries() -> None:
    length = 4
    logits = torch.randn(1, 1, length, 2 * length - 1, requires_grad=True)
    relative_shift(logits).sum().backward()
    used = np.zeros((length, 2 * length - 1))
    for i in range(length):
        used[i, length - 1 - i : 2 * length - 1 - i] = 1.0
    np.testing.assert_array_equal(logits.grad[0, 0].numpy(), used)


@pytest.mark.parametrize(("rows", "keys"), [(1, 4), (3, 4), (2, 7)])
def test_band_shift_matches_naive_loop(rows: int, keys: int) -> None:
    logits = torch.randn(2, rows, keys + rows - 1)
    expected = torch.empty(2, rows, keys)
    for r in range(rows):
        for j in range(keys):
            expected[:, r, j] = logits[:, r, j + rows - 1 - r]
    torch.testing.assert_close(band_shift(logits, keys), expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="band_shift"):
        band_shift(logits, keys + 1)


def test_features_first_made_under_inference_mode_serve_a_later_backward() -> None:
    """A feature table cached inside inference_mode must not be an inference tensor."""
    with torch.inference_mode():
        first = positional_features(37, 12)
    assert not first.is_inference()
    weight = torch.ones(12, requires_grad=True)
    (positional_features(37, 12) * weight).sum().backward()
    assert weight.grad is not None and torch.isfinite(weight.grad).all()
