"""Relative-position multi-head attention and the pre-norm transformer block (channel-last, (B, T, C))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enformer_lite.model.config import ModelConfig
from enformer_lite.model.positional import band_shift, positional_features, relative_shift


def _softmax_(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, in place when autograd does not need the logits."""
    if torch.is_grad_enabled() and logits.requires_grad:
        return logits.softmax(dim=-1)
    logits -= logits.amax(dim=-1, keepdim=True)
    logits.exp_()
    logits /= logits.sum(dim=-1, keepdim=True)
    return logits


def _probabilities(qc: torch.Tensor, qp: torch.Tensor, k: torch.Tensor, rk: torch.Tensor) -> torch.Tensor:
    """softmax(qc k^T + shift(qp rk^T)) over keys; (B, H, T, K) x3, (H, 2T-1, K) -> (B, H, T, T)."""
    logits = torch.matmul(qc, k.transpose(-1, -2))
    logits += relative_shift(torch.matmul(qp, rk.transpose(-1, -2)))
    return _softmax_(logits)


# Elements of one (N, rows, T) working buffer: query rows are processed in blocks of this size,
# so that the buffers stay in cache and each block needs only T + rows - 1 relative keys.
_BLOCK_ELEMENTS = 1 << 20


def _row_blocks(n: int, t: int) -> list[tuple[int, int]]:
    step = max(1, min(t, _BLOCK_ELEMENTS // (n * t)))
    return [(lo, min(lo + step, t)) for lo in range(0, t, step)]


def _block_probabilities(
    qc: torch.Tensor, qp: torch.Tensor, k: torch.Tensor, rk: torch.Tensor, lo: int, hi: int
) -> torch.Tensor:
    """Attention probabilities of query rows lo..hi-1: (N, T, K) x3, (N, 2T-1, K) -> (N, hi-lo, T)."""
    t = k.shape[1]
    logits = torch.bmm(qc[:, lo:hi], k.transpose(1, 2))
    # Rows lo..hi-1 meet distances -(hi-1) .. t-1-lo, i.e. rows t-hi .. 2t-2-lo of rk.
    logits += band_shift(torch.bmm(qp[:, lo:hi], rk[:, t - hi : 2 * t - 1 - lo].transpose(1, 2)), t)
    return _softmax_(logits)


class _RelativeAttention(torch.autograd.Function):
    """Attention with additive relative-position logits that keeps no (T, T) float tensor for backward.

    Forward returns ``dropout(P) v`` with ``P = softmax(qc k^T + shift(qp rk^T))``, one block of
    query rows at a time; backward recomputes each block of ``P`` from the saved inputs (as flash
    attention does), so the memory kept per layer is O(T) plus a 1-byte dropout mask, and the
    transient buffers are a few (N, rows, T) blocks. Inputs are flattened heads: qc, qp, k (N, T, K),
    v (N, T, V), rk (N, 2T-1, K). Computed in float32 (float64 for float64 inputs), autocast off.

    Under bf16 autocast the projections hand in bf16 tensors: they are cast up once (O(T) each; the
    float32 copies are what backward keeps), the (rows, T) logits, softmax and the row sums of
    backward stay float32, and the output and the gradients go back in the inputs' dtypes, so the
    surrounding autocast graph sees bf16 as from any autocast op (tests/test_bf16.py).
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
        ctx.dtypes = [x.dtype for x in (qc, qp, k, v, rk)]
        n, t, _ = qc.shape
        with torch.autocast(qc.device.type, enabled=False):
            work = torch.promote_types(dtype, torch.float32)
            qc, qp, k, v, rk = (x.to(work).contiguous() for x in (qc, qp, k, v, rk))
            out = v.new_empty(v.shape)
            keep = torch.empty(n, t, t, dtype=torch.bool, device=v.device) if dropout_p > 0.0 else None
            for lo, hi in _row_blocks(n, t):
                probs = _block_probabilities(qc, qp, k, rk, lo, hi)
                if keep is not None:
                    mask = keep[:, lo:hi]
                    mask.bernoulli_(1.0 - dropout_p)
                    probs.mul_(mask).div_(1.0 - dropout_p)
                out[:, lo:hi] = torch.bmm(probs, v)
        ctx.save_for_backward(qc, qp, k, v, rk, out, keep)
        ctx.dropout_p = dropout_p
        return out.to(dtype)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        qc, qp, k, v, rk, out, keep = ctx.saved_tensors
        n, t, _ = qc.shape
        scale = 1.0 / (1.0 - ctx.dropout_p)
        with torch.autocast(grad_out.device.type, enabled=False):
            grad_out = grad_out.to(out.dtype)
            grad_qc, grad_qp = torch.empty_like(qc), torch.empty_like(qp)
            grad_k, grad_v, grad_rk = torch.zeros_like(k), torch.zeros_like(v), torch.zeros_like(rk)
            # Softmax backward needs sum_j P_ij dP_ij, which equals dO_i . O_i (also with dropout).
            row_dot = (grad_out * out).sum(dim=-1, keepdim=True)
            band: torch.Tensor | None = None
            for lo, hi in _row_blocks(n, t):
                rows = hi - lo
                probs = _block_probabilities(qc, qp, k, rk, lo, hi)
                grad_o = grad_out[:, lo:hi]
                grad_p = torch.bmm(grad_o, v.transpose(1, 2))
                if keep is not None:
                    mask = keep[:, lo:hi]
                    grad_v.baddbmm_((probs * mask).transpose(1, 2), grad_o, alpha=scale)
                    grad_p.mul_(mask).mul_(scale)
                else:
                    grad_v.baddbmm_(probs.transpose(1, 2), grad_o)
                grad_p -= row_dot[:, lo:hi]
                grad_logits = probs.mul_(grad_p)
                del grad_p
                grad_qc[:, lo:hi] = torch.bmm(grad_logits, k)
                grad_k.baddbmm_(grad_logits.transpose(1, 2), qc[:, lo:hi])
                # Off-band entries are never written, so a buffer of the same shape can be reused.
                if band is None or band.shape[1] != rows:
                    band = qc.new_zeros(n, rows, t + rows - 1)
                band_shift(band, t).copy_(grad_logits)
                del grad_logits, probs
                window = slice(t - hi, 2 * t - 1 - lo)
                grad_qp[:, lo:hi] = torch.bmm(band, rk[:, window])
                grad_rk[:, window].baddbmm_(band.transpose(1, 2), qp[:, lo:hi])
        grads = (grad_qc, grad_qp, grad_k, grad_v, grad_rk)
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
        # "flex": FlexAttention (enformer_lite.model.flex_attention) when no dropout is active (and,
        # on CPU, where FlexAttention has no backward, only without gradients).
        self.backend = "blockwise"

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
        elif self.backend == "flex" and dropout_p == 0.0 and (x.is_cuda or not torch.is_grad_enabled()):
            from enformer_lite.model.flex_attention import flex_relative_attention

            weights = None
            out = flex_relative_attention(qc, qp, k, v, rel_k)
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
