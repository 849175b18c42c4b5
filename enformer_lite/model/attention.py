"""Relative-position multi-head attention and the pre-norm transformer block (channel-last, (B, T, C))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from enformer_lite.model.config import ModelConfig
from enformer_lite.model.positional import positional_features, relative_shift


class RelativeMultiheadAttention(nn.Module):
    """Multi-head attention with Transformer-XL relative positions, as in Enformer.

    For queries ``q`` (scaled by key_size**-0.5), keys ``k``, values ``v`` and projected positional
    features ``r`` (one key per relative distance), the logits of head h are
    ``(q + u_h) k^T + shift((q + w_h) r^T)`` with learned content bias ``u`` and position bias
    ``w``. The attention itself runs in :func:`torch.nn.functional.scaled_dot_product_attention`
    with the exact relative logits passed as an additive mask.
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
        rel_logits = relative_shift(torch.matmul(q + self.position_bias, rel_k.transpose(-1, -2)))  # (B, H, T, T)
        dropout_p = self.attention_dropout if self.training else 0.0

        if return_attention:
            logits = torch.matmul(q + self.content_bias, k.transpose(-1, -2)) + rel_logits
            weights = logits.softmax(dim=-1)
            out = torch.matmul(F.dropout(weights, dropout_p, self.training), v)
        else:
            weights = None
            out = F.scaled_dot_product_attention(
                q + self.content_bias, k, v, attn_mask=rel_logits, dropout_p=dropout_p, scale=1.0
            )
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
