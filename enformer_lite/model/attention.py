"""Relative-position multi-head attention and the pre-norm transformer block (channel-last, (B, T, C))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enformer_lite.model.config import ModelConfig
from enformer_lite.model.positional import positional_features, relative_shift


def _probabilities(qc: torch.Tensor, qp: torch.Tensor, k: torch.Tensor, rk: torch.Tensor) -> torch.Tensor:
    """softmax(qc k^T + shift(qp rk^T)) over keys; (B, H, T, K) x3, (H, 2T-1, K) -> (B, H, T, T)."""
    logits = torch.matmul(qc, k.transpose(-1, -2))
    logits += relative_shift(torch.matmul(qp, rk.transpose(-1, -2)))
    if torch.is_grad_enabled() and logits.requires_grad:
        return logits.softmax(dim=-1)
    # In-place softmax: one (B, H, T, T) buffer instead of three.
    logits -= logits.amax(dim=-1, keepdim=True)
    logits.exp_()
    logits /= logits.sum(dim=-1, keepdim=True)
    return logits


# Elements of one (rows, T, T) working buffer; heads are processed in chunks of at most this size.
_CHUNK_ELEMENTS = 1 << 22


def _row_chunks(rows: int, t: int) -> list[slice]:
    step = max(1, _CHUNK_ELEMENTS // (t * t))
    return [slice(i, min(i + step, rows)) for i in range(0, rows, step)]


class _RelativeAttention(torch.autograd.Function):
    """Attention with additive relative-position logits that keeps no (T, T) float tensor for backward.

    Forward returns ``dropout(P) v`` with ``P = softmax(qc k^T + shift(qp rk^T))``; backward
    recomputes ``P`` from the saved inputs (as flash attention does), so the memory kept per layer
    is O(T) plus a 1-byte dropout mask. Batch x heads are processed in chunks, which bounds the
    transient (T, T) buffers as well. Inputs are flattened to (B*H, T, D); ``rk`` is (B*H, 2T-1, K).
    Computed in float32 (float64 for float64 inputs) with autocast off.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        qc: torch.Tensor,
        qp: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        rk: torch.Tensor,
        dropout_p: float,
    ) -> torch.Tensor:
        dtype = qc.dtype
        ctx.dtypes = [t.dtype for t in (qc, qp, k, v, rk)]
        rows, t, _ = qc.shape
        with torch.autocast(qc.device.type, enabled=False):
            work = torch.promote_types(dtype, torch.float32)
            qc, qp, k, v, rk = (x.to(work) for x in (qc, qp, k, v, rk))
            out = v.new_empty(v.shape)
            keep = torch.empty(rows, t, t, dtype=torch.bool, device=v.device) if dropout_p > 0.0 else None
            for rs in _row_chunks(rows, t):
                probs = _probabilities(qc[rs], qp[rs], k[rs], rk[rs])
                if keep is not None:
                    keep[rs].bernoulli_(1.0 - dropout_p)
                    probs.mul_(keep[rs]).div_(1.0 - dropout_p)
                torch.matmul(probs, v[rs], out=out[rs])
        ctx.save_for_backward(qc, qp, k, v, rk, out, keep)
        ctx.dropout_p = dropout_p
        return out.to(dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        qc, qp, k, v, rk, out, keep = ctx.saved_tensors
        rows, t, _ = qc.shape
        scale = 1.0 / (1.0 - ctx.dropout_p)
        with torch.autocast(grad_out.device.type, enabled=False):
            grad_out = grad_out.to(out.dtype)
            grads = [torch.empty_like(x) for x in (qc, qp, k, v, rk)]
            grad_qc, grad_qp, grad_k, grad_v, grad_rk = grads
            # Softmax backward needs sum_j P_ij dP_ij, which equals dO_i . O_i (also with dropout).
            row_dot = (grad_out * out).sum(dim=-1, keepdim=True)
            chunks = _row_chunks(rows, t)
            # Entries off the band written by relative_shift stay zero, so one buffer serves all chunks.
            band = qc.new_zeros(chunks[0].stop - chunks[0].start, t, 2 * t - 1)
            for rs in chunks:
                n = rs.stop - rs.start
                probs = _probabilities(qc[rs], qp[rs], k[rs], rk[rs])
                grad_p = torch.matmul(grad_out[rs], v[rs].transpose(-1, -2))
                if keep is not None:
                    torch.matmul((probs * keep[rs]).transpose(-1, -2), grad_out[rs], out=grad_v[rs])
                    grad_v[rs] *= scale
                    grad_p.mul_(keep[rs]).mul_(scale)
                else:
                    torch.matmul(probs.transpose(-1, -2), grad_out[rs], out=grad_v[rs])
                grad_p -= row_dot[rs]
                grad_logits = probs.mul_(grad_p)
                del grad_p
                torch.matmul(grad_logits, k[rs], out=grad_qc[rs])
                torch.matmul(grad_logits.transpose(-1, -2), qc[rs], out=grad_k[rs])
                relative_shift(band[:n]).copy_(grad_logits)
                del grad_logits, probs
                torch.matmul(band[:n], rk[rs], out=grad_qp[rs])
                torch.matmul(band[:n].transpose(-1, -2), qp[rs], out=grad_rk[rs])
        return (*(g.to(dt) for g, dt in zip(grads, ctx.dtypes)), None)


def relative_attention(
    qc: torch.Tensor, qp: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rk: torch.Tensor, dropout_p: float = 0.0
) -> torch.Tensor:
    """dropout(softmax(qc k^T + shift(qp rk^T))) v.

    Shapes: qc, qp, k (B, H, T, K); v (B, H, T, V); rk (H, 2T-1, K) -> (B, H, T, V). ``qc`` and ``qp``
    are the scaled queries plus the content and position biases.
    """
    b, h, t, _ = qc.shape
    flat = [x.reshape(b * h, t, x.shape[-1]) for x in (qc, qp, k, v)]
    rk_rows = rk.unsqueeze(0).expand(b, *rk.shape).reshape(b * h, 2 * t - 1, rk.shape[-1])
    out = _RelativeAttention.apply(*flat, rk_rows, dropout_p)
    return out.view(b, h, t, -1)


class RelativeMultiheadAttention(nn.Module):
    """Multi-head attention with Transformer-XL relative positions, as in Enformer.

    For queries ``q`` (scaled by key_size**-0.5), keys ``k``, values ``v`` and projected positional
    features ``r`` (one key per relative distance), the logits of head h are
    ``(q + u_h) k^T + shift((q + w_h) r^T)`` with learned content bias ``u`` and position bias
    ``w``. The attention runs in :func:`relative_attention`, which recomputes the (T, T) probabilities
    in backward instead of storing them. (On CPU this measured faster than passing the relative
    logits as a mask to ``scaled_dot_product_attention``, which then falls back to its unfused
    path because the mask needs a gradient.)
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        key_size: int,
        num_positional_features: int,
        attention_dropout: float,
        positional_dropout: float,
        gamma: str = "tf",
    ) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels={channels} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.key_size = key_size
        self.value_size = channels // num_heads
        self.num_positional_features = num_positional_features
        self.gamma = gamma
        self.attention_dropout = attention_dropout

        self.to_q = nn.Linear(channels, key_size * num_heads, bias=False)
        self.to_k = nn.Linear(channels, key_size * num_heads, bias=False)
        self.to_v = nn.Linear(channels, self.value_size * num_heads, bias=False)
        self.to_out = nn.Linear(self.value_size * num_heads, channels)
        # Zero-initialised output: each block starts as the identity (published model's choice).
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)
        self.to_rel_k = nn.Linear(num_positional_features, key_size * num_heads, bias=False)
        self.content_bias = nn.Parameter(torch.randn(1, num_heads, 1, key_size) * key_size**-0.5)
        self.position_bias = nn.Parameter(torch.randn(1, num_heads, 1, key_size) * key_size**-0.5)
        self.positional_dropout = nn.Dropout(positional_dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H*D) -> (B, H, T, D)."""
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, C) -> (output (B, T, C), attention weights (B, H, T, T) or None)."""
        b, t, _ = x.shape
        q = self._heads(self.to_q(x)) * self.key_size**-0.5
        k = self._heads(self.to_k(x))
        v = self._heads(self.to_v(x))

        features = positional_features(
            t, self.num_positional_features, gamma=self.gamma, device=x.device, dtype=x.dtype
        )
        rel_k = self.to_rel_k(self.positional_dropout(features))  # (2T-1, H*K)
        rel_k = rel_k.view(2 * t - 1, self.num_heads, self.key_size).transpose(0, 1)  # (H, 2T-1, K)
        dropout_p = self.attention_dropout if self.training else 0.0
        qc, qp = q + self.content_bias, q + self.position_bias

        if return_attention:
            weights = _probabilities(qc, qp, k, rel_k)
            out = torch.matmul(F.dropout(weights, dropout_p, self.training), v)
        else:
            weights = None
            out = relative_attention(qc, qp, k, v, rel_k, dropout_p)
        out = out.transpose(1, 2).reshape(b, t, self.num_heads * self.value_size)
        return self.to_out(out), weights


class TransformerBlock(nn.Module):
    """Pre-norm block: x + Dropout(MHA(LN(x))), then x + MLP(LN(x)) with a 2x ReLU MLP; (B, T, C) -> (B, T, C)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(cfg.channels, eps=1e-5)
        self.attn = RelativeMultiheadAttention(
            cfg.channels, cfg.num_heads, cfg.key_size, cfg.num_positional_features,
            cfg.attention_dropout, cfg.positional_dropout, cfg.positional_gamma,
        )
        self.mlp_norm = nn.LayerNorm(cfg.channels, eps=1e-5)
        self.mlp_in = nn.Linear(cfg.channels, 2 * cfg.channels)
        self.mlp_out = nn.Linear(2 * cfg.channels, cfg.channels)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, C) -> ((B, T, C), attention weights (B, H, T, T) or None)."""
        attended, weights = self.attn(self.attn_norm(x), return_attention)
        x = x + self.dropout(attended)
        hidden = self.dropout(self.mlp_in(self.mlp_norm(x))).relu()
        return x + self.dropout(self.mlp_out(hidden)), weights
