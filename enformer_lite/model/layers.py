"""Convolutional building blocks of the trunk (channel-first tensors, shape (B, C, L))."""

from __future__ import annotations

import torch
from torch import nn

_GELU_SLOPE = 1.702


class _SigmoidGELU(torch.autograd.Function):
    """x * sigmoid(1.702 x), saving only its input: the sigmoid is recomputed in backward.

    Plain autograd keeps three full-length tensors per activation here (x, 1.702x's sigmoid and
    the product's operands); at 196,608 bp the activations dominate training memory.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * torch.sigmoid(_GELU_SLOPE * x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(_GELU_SLOPE * x)
        return grad * s * (1.0 + _GELU_SLOPE * x * (1.0 - s))


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU in the sigmoid approximation used by Enformer: x * sigmoid(1.702 x); any shape."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _SigmoidGELU.apply(x)
    return x * torch.sigmoid(_GELU_SLOPE * x)


class GELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gelu(x)


class ConvBlock(nn.Module):
    """BatchNorm -> GELU -> Conv1d ('same' padding): (B, C_in, L) -> (B, C_out, L)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.norm = nn.BatchNorm1d(in_channels, momentum=0.1, eps=1e-5)
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(gelu(self.norm(x)))


class SoftmaxPool1d(nn.Module):
    """Softmax ("attention") pooling by 2 with per-channel logits: (B, C, L) -> (B, C, L/2).

    Each output is a softmax-weighted mean of two neighbours, ``w = softmax(W x)`` over the pair,
    with ``W`` a (C, C) matrix initialised to ``2 * I`` (close to max pooling). For a pair the
    softmax weight of the first element is ``sigmoid(W x1 - W x2) = sigmoid(W (x1 - x2))``, so the
    logits are computed once on the difference at half length instead of twice at full length.
    """

    def __init__(self, channels: int, init_scale: float = 2.0) -> None:
        super().__init__()
        self.logits = nn.Conv1d(channels, channels, 1, bias=False)
        with torch.no_grad():
            self.logits.weight.copy_(init_scale * torch.eye(channels)[:, :, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2:
            raise ValueError(f"softmax pooling needs an even length, got {x.shape[-1]}")
        first, second = x[..., 0::2], x[..., 1::2]
        diff = first - second
        return torch.addcmul(second, diff, torch.sigmoid(self.logits(diff)))


class ResidualPointwise(nn.Module):
    """x + ConvBlock(C, C, kernel 1)(x): (B, C, L) -> (B, C, L)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = ConvBlock(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def make_pool(kind: str, channels: int) -> nn.Module:
    """Pooling by 2 of the given kind ("attention" or "max")."""
    if kind == "attention":
        return SoftmaxPool1d(channels)
    if kind == "max":
        return nn.MaxPool1d(2)
    raise ValueError(f"unknown pooling {kind!r}")


class Stem(nn.Module):
    """Conv(k=15) -> residual pointwise block -> pool: (B, 4, L) -> (B, C/2, L/2)."""

    def __init__(self, out_channels: int, pooling: str) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, out_channels, 15, padding=7)
        self.pointwise = ResidualPointwise(out_channels)
        self.pool = make_pool(pooling, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.pointwise(self.conv(x)))


class TowerBlock(nn.Module):
    """ConvBlock(k=5) -> residual pointwise block -> pool: (B, C_in, L) -> (B, C_out, L/2)."""

    def __init__(self, in_channels: int, out_channels: int, pooling: str) -> None:
        super().__init__()
        self.conv = ConvBlock(in_channels, out_channels, 5)
        self.pointwise = ResidualPointwise(out_channels)
        self.pool = make_pool(pooling, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.pointwise(self.conv(x)))


class DilatedResidualBlock(nn.Module):
    """x + Dropout(ConvBlock(C/2->C, k=1)(ConvBlock(C->C/2, k=3, dilation)(x))): (B, C, T) -> (B, C, T).

    The Basenji2-style block of the CNN-only ablation; each block widens the receptive field
    by ``2 * dilation`` bins.
    """

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.dilated = ConvBlock(channels, channels // 2, 3, dilation=dilation)
        self.pointwise = ConvBlock(channels // 2, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.pointwise(self.dilated(x)))
