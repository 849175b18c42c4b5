"""The FlexAttention path of the relative attention equals the block-wise kernel and a dense
recomputation: forward on CPU (FlexAttention's eager reference path, which has no backward there),
forward and backward where a GPU is present."""

from __future__ import annotations

import pytest
import torch

from enformer_lite.model import ModelConfig, build_model
from enformer_lite.model.attention import relative_attention
from enformer_lite.model.flex_attention import flex_relative_attention, set_attention_backend

pytest.importorskip("torch.nn.attention.flex_attention")


def dense(qc, qp, k, v, rk):
    """softmax(qc k^T + R) v with R[i, j] = qp_i . rk[j - i + T - 1], every (i, j) written out."""
    t = qc.shape[2]
    distance = torch.arange(t)[None, :] - torch.arange(t)[:, None] + t - 1  # (T, T) row of rk
    rel = torch.einsum("bhqk,hqjk->bhqj", qp, rk[:, distance])
    return torch.softmax(qc @ k.transpose(-1, -2) + rel, dim=-1) @ v


def inputs(seed: int = 0, b: int = 2, h: int = 2, t: int = 24, key: int = 8, value: int = 6):
    g = torch.Generator().manual_seed(seed)
    shapes = [(b, h, t, key)] * 3 + [(b, h, t, value), (h, 2 * t - 1, key)]
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_flex_equals_dense_and_blockwise_on_cpu() -> None:
    tensors = [t.detach() for t in inputs()]
    want = dense(*tensors)
    torch.testing.assert_close(flex_relative_attention(*tensors), want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(relative_attention(*tensors, dropout_p=0.0), want, rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="FlexAttention's backward needs a GPU")
def test_flex_gradients_equal_dense_on_gpu() -> None:
    tensors = [t.detach().cuda().requires_grad_() for t in inputs()]
    grad = torch.randn(2, 2, 24, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64).cuda()
    results = {}
    for name, fn in (("dense", dense), ("flex", flex_relative_attention),
                     ("blockwise", lambda *x: relative_attention(*x, dropout_p=0.0))):
        out = fn(*tensors)
        grads = torch.autograd.grad(out, tensors, grad)
        results[name] = (out.detach(), grads)
    for name in ("flex", "blockwise"):
        torch.testing.assert_close(results[name][0], results["dense"][0], rtol=1e-6, atol=1e-6)
        for got, want in zip(results[name][1], results["dense"][1]):
            torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_model_outputs_do_not_depend_on_the_backend() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset("tiny", heads={"human": 3}, target_length=16)
    model = build_model(cfg).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 32 * cfg.bin_size)), 4).float()
    with torch.no_grad():
        reference = model(x, head="human")
        assert set_attention_backend(model, "flex") == 1
        flex = model(x, head="human")
    torch.testing.assert_close(flex, reference, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="blockwise, flex"):
        set_attention_backend(model, "sdpa")
