"""The relative-position attention through PyTorch's FlexAttention, for GPUs.

:func:`flex_relative_attention` computes what :func:`enformer_lite.model.attention.relative_attention`
computes, ``softmax(qc k^T + shift(qp rk^T)) v``, by handing FlexAttention the content logits
``qc k^T`` and adding the relative logits in a ``score_mod``: the table ``qp rk^T`` (B, H, T, 2T-1)
is indexed at distance ``key - query``. FlexAttention fuses the softmax and the value product into
one kernel once compiled (``torch.compile(flex_attention)``, which needs a GPU or a C++ toolchain);
called eagerly it runs PyTorch's unfused reference, which is how the CPU test checks it.

FlexAttention has no attention dropout, and on CPU no backward, so this path serves inference, and
training on a GPU with ``attention_dropout`` 0; :class:`~enformer_lite.model.attention.RelativeMultiheadAttention`
keeps the block-wise kernel whenever dropout is active or gradients are needed on CPU. Select it with :func:`set_attention_backend`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

BACKENDS = ("blockwise", "flex")
_compiled: dict[str, Callable[..., torch.Tensor]] = {}


def _kernel(device: torch.device) -> Callable[..., torch.Tensor]:
    """FlexAttention, compiled on CUDA (the fused kernel), eager elsewhere (the reference path)."""
    from torch.nn.attention.flex_attention import flex_attention

    if device.type != "cuda":
        return flex_attention
    if "cuda" not in _compiled:
        _compiled["cuda"] = torch.compile(flex_attention, dynamic=False)
    return _compiled["cuda"]


def flex_relative_attention(
    qc: torch.Tensor, qp: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rk: torch.Tensor
) -> torch.Tensor:
    """softmax(qc k^T + shift(qp rk^T)) v without dropout.

    Shapes: qc, qp, k (B, H, T, K); v (B, H, T, V); rk (H, 2T-1, K), row ``d + T - 1`` the key of
    distance ``d = key - query``  -> (B, H, T, V). Queries are already scaled (``scale=1``).
    """
    t = qc.shape[2]
    table = torch.einsum("bhqk,hdk->bhqd", qp, rk)  # (B, H, T, 2T-1) relative logits

    def score_mod(score: torch.Tensor, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> torch.Tensor:
        return score + table[b, h, q_idx, kv_idx - q_idx + t - 1]

    return _kernel(qc.device)(qc, k, v, score_mod=score_mod, scale=1.0)


def set_attention_backend(model: nn.Module, backend: str) -> int:
    """Set every relative attention layer of ``model`` to ``backend`` (``blockwise`` or ``flex``);
    returns the number of layers set."""
    from enformer_lite.model.attention import RelativeMultiheadAttention

    if backend not in BACKENDS:
        raise ValueError(f"attention backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    layers = [m for m in model.modules() if isinstance(m, RelativeMultiheadAttention)]
    for layer in layers:
        layer.backend = backend
    return len(layers)
