"""Convolutional building blocks of the trunk (channel-first tensors, shape (B, C, L))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_GELU_SLOPE = 1.702


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no per-device query
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """dtype of the matrix products on ``x``: the autocast dtype for a float32 ``x`` under autocast (as
    autocast casts only float32), else ``x``'s own."""
    device = x.device.type
    if x.dtype == torch.float32 and _autocast_enabled(device):
        try:
            return torch.get_autocast_dtype(device)
        except AttributeError:  # torch < 2.4
            return torch.get_autocast_cpu_dtype() if device == "cpu" else torch.get_autocast_gpu_dtype()
    return x.dtype


def _fusable(x: torch.Tensor) -> bool:
    """Whether the hand-written autograd functions take ``x``: float32 input, or a 16-bit float input
    under autocast (they then run the products in the autocast dtype and keep statistics in float32)."""
    if not torch.is_grad_enabled():
        return False
    low = x.dtype in (torch.bfloat16, torch.float16) and _autocast_enabled(x.device.type)
    return x.dtype == torch.float32 or low


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU in the sigmoid approximation used by Enformer: x * sigmoid(1.702 x); any shape.

    Written as silu(1.702 x) / 1.702 so that the fused SiLU kernel (and its fused backward) is used.
    """
    return F.silu(_GELU_SLOPE * x) / _GELU_SLOPE


class _NormActConv(torch.autograd.Function):
    """conv1d(silu(batch_norm(x)), w, b) that saves only ``x`` (and per-channel statistics) for backward.

    The BatchNorm output and the SiLU output, each as large as ``x``, are recomputed in backward
    from the saved batch statistics instead of being stored: two fewer full-length tensors per
    block, at the price of one elementwise pass. Batch norm arguments are already scaled.

    Mixed precision: autocast is switched off inside and the casts are explicit. The batch norm
    runs on ``x`` in its own dtype with float32 parameters, so its statistics (batch and running)
    are float32 even for a bfloat16 ``x``; the convolution runs in ``compute_dtype`` (the autocast
    dtype, else ``x.dtype``) and so does the output, as autocast would give; ``x`` is saved as it
    came (bfloat16 halves the bytes kept). Gradients come back in the dtypes of the inputs.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        norm_weight: torch.Tensor,
        norm_bias: torch.Tensor,
        conv_weight: torch.Tensor,
        conv_bias: torch.Tensor | None,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        training: bool,
        momentum: float,
        eps: float,
        padding: int,
        dilation: int,
        compute_dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        cd = compute_dtype or x.dtype
        with torch.autocast(x.device.type, enabled=False):
            z, mean, invstd = torch.native_batch_norm(
                x, norm_weight, norm_bias, running_mean, running_var, training, momentum, eps
            )
            out = F.conv1d(
                F.silu(z, inplace=True).to(cd), conv_weight.to(cd), None if conv_bias is None else conv_bias.to(cd),
                padding=padding, dilation=dilation,
            )
        del z
        if not training:  # eval mode: normalise with the running statistics
            mean, invstd = running_mean.clone(), torch.rsqrt(running_var + eps)
        ctx.save_for_backward(x, norm_weight, norm_bias, conv_weight, mean, invstd)
        ctx.conf = (conv_bias is not None, training, eps, padding, dilation, cd)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, norm_weight, norm_bias, conv_weight, mean, invstd = ctx.saved_tensors
        has_bias, training, eps, padding, dilation, cd = ctx.conf
        shape = (1, -1, 1)
        with torch.autocast(x.device.type, enabled=False):
            scale = (invstd * norm_weight).view(shape)
            if x.dtype == mean.dtype:
                z = torch.addcmul(norm_bias.view(shape), x - mean.view(shape), scale)
            else:  # bfloat16 x, float32 statistics: batch norm's own mixed-dtype kernel (float32 inside, one pass)
                z = torch.native_batch_norm(
                    x, norm_weight, norm_bias, mean, invstd.pow(-2) - eps, False, 0.0, eps
                )[0]
            grad_u, grad_cw, grad_cb = torch.ops.aten.convolution_backward(
                grad_out.to(cd), F.silu(z).to(cd), conv_weight.to(cd), [conv_weight.shape[0]] if has_bias else None,
                [1], [padding], [dilation], False, [0], 1, [True, True, has_bias],
            )
            grad_z = torch.ops.aten.silu_backward(grad_u.to(z.dtype), z)
            del z, grad_u
            if training:
                grad_x, grad_nw, grad_nb = torch.ops.aten.native_batch_norm_backward(
                    grad_z, x, norm_weight, None, None, mean, invstd, True, eps, [True, True, True]
                )
            else:  # affine map with fixed statistics
                acc = norm_weight.dtype
                grad_nb = grad_z.sum(dim=(0, 2), dtype=acc)
                grad_nw = (grad_z * (x - mean.view(shape).to(x.dtype))).sum(dim=(0, 2), dtype=acc) * invstd
                grad_x = (grad_z * scale.to(grad_z.dtype)).to(x.dtype)
        grad_cw = grad_cw.to(conv_weight.dtype)
        grad_cb = grad_cb.to(conv_weight.dtype) if has_bias else None
        return grad_x, grad_nw, grad_nb, grad_cw, grad_cb, None, None, None, None, None, None, None, None


class ConvBlock(nn.Module):
    """BatchNorm -> GELU -> Conv1d ('same' padding): (B, C_in, L) -> (B, C_out, L).

    The GELU's 1.702 factor is folded into the BatchNorm affine parameters and its 1/1.702 into
    the convolution weights (GELU(y) = SiLU(1.702 y) / 1.702), so the full-length tensor goes
    through two fused kernels instead of five elementwise passes; in training only the block's
    input is kept for backward (see :class:`_NormActConv`). Parameters keep their plain meaning.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.norm = nn.BatchNorm1d(in_channels, momentum=0.1, eps=1e-5)
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn, conv = self.norm, self.conv
        if type(conv) is not nn.Conv1d:  # wrapped (a LoRA adapter): call it rather than fuse its weight
            return conv(gelu(bn(x)))
        if bn.training and _world_size() > 1:
            return self._forward_synchronised(x)
        momentum = bn.momentum
        if bn.training and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
            momentum = _ema_momentum(bn)
        training = bn.training or bn.running_mean is None
        norm_weight, norm_bias = bn.weight * _GELU_SLOPE, bn.bias * _GELU_SLOPE
        conv_weight = conv.weight / _GELU_SLOPE
        dilation = conv.dilation[0]
        padding = dilation * (conv.kernel_size[0] // 2)
        if _fusable(x):
            return _NormActConv.apply(
                x, norm_weight, norm_bias, conv_weight, conv.bias, bn.running_mean, bn.running_var,
                training, momentum or 0.0, bn.eps, padding, dilation, _compute_dtype(x),
            )
        z = F.batch_norm(x, bn.running_mean, bn.running_var, norm_weight, norm_bias, training, momentum or 0.0, bn.eps)
        # SiLU in place: batch norm's backward does not read its output, so one full-length buffer suffices.
        return F.conv1d(F.silu(z, inplace=True), conv_weight, conv.bias, padding=padding, dilation=dilation)


    def _forward_synchronised(self, x: torch.Tensor) -> torch.Tensor:
        """Training forward with batch statistics over every process's batch (as SyncBatchNorm, which
        PyTorch offers for GPUs only): per-channel sums are all-reduced with gradients, the running
        statistics are updated with the global ones, and every process normalises alike."""
        bn, conv = self.norm, self.conv
        channels = x.shape[1]
        # Sums in float32 at least: bf16 sums of squares would lose the variance.
        xs = x if x.dtype in (torch.float32, torch.float64) else x.float()
        local = torch.cat([xs.sum(dim=(0, 2)), (xs * xs).sum(dim=(0, 2)), xs.new_full((1,), x.shape[0] * x.shape[2])])
        del xs
        total = _AllReduceSum.apply(local.float())
        count = total[-1]
        mean = total[:channels] / count
        var = (total[channels : 2 * channels] / count - mean * mean).clamp_min(0.0)
        if bn.running_mean is not None:
            with torch.no_grad():
                bn.num_batches_tracked.add_(1)
                momentum = _ema_momentum(bn)
                bn.running_mean.lerp_(mean.detach().to(bn.running_mean.dtype), momentum)
                unbiased = var.detach() * count / (count - 1).clamp_min(1.0)
                bn.running_var.lerp_(unbiased.to(bn.running_var.dtype), momentum)
        scale = (bn.weight * torch.rsqrt(var + bn.eps)).to(x.dtype).view(1, -1, 1)
        z = (x - mean.to(x.dtype).view(1, -1, 1)) * scale + bn.bias.to(x.dtype).view(1, -1, 1)
        dilation = conv.dilation[0]
        return F.conv1d(gelu(z), conv.weight, conv.bias, padding=dilation * (conv.kernel_size[0] // 2), dilation=dilation)


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes with gradients: the backward of a sum over processes is the sum of the gradients."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = x.clone()
        torch.distributed.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        torch.distributed.all_reduce(grad)
        return grad


def _ema_momentum(bn: nn.BatchNorm1d) -> float:
    """Momentum of this update of the running statistics (``num_batches_tracked`` already counts it).

    The published model's Sonnet BatchNorm keeps a zero-debiased moving average with decay
    ``d = 1 - momentum``: ``m_t = (1 - d) Σ_i d^(t-i) x_i / (1 - d^t)``, i.e. the update
    ``m_t = m_(t-1) + (x_t - m_(t-1)) (1 - d) / (1 - d^t)``: the first batch is taken whole, and the
    momentum falls to ``1 - d``. PyTorch's plain update would instead start from 0 (mean) and 1
    (variance) and take ~1 / momentum steps to forget them. ``momentum=None`` is a cumulative average.
    """
    steps = float(bn.num_batches_tracked)
    if bn.momentum is None:
        return 1.0 / steps
    decay = 1.0 - bn.momentum
    return (1.0 - decay) / (1.0 - decay**steps) if decay > 0 else 1.0


def _world_size() -> int:
    """Processes in the default process group (1 without one)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _PairSoftmaxPool(torch.autograd.Function):
    """Softmax pooling of neighbour pairs: ``x2 + (x1 - x2) * sigmoid(W (x1 - x2))``; (B, C, 2L) -> (B, C, L).

    Written out by hand so that backward writes the input gradient of both pair members in one
    pass (autograd through two strided slices would zero-fill and copy a full-length buffer twice).
    Saves the pair difference and the gate, each (B, C, L). Mixed precision: with autocast on, the
    input is cast to the autocast dtype and everything runs there (autocast off inside, explicit
    casts), as autocast's own matmul would; the gradients come back in the inputs' dtypes.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, weight: torch.Tensor,
        compute_dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        ctx.dtypes = (x.dtype, weight.dtype)
        cd = compute_dtype or x.dtype
        with torch.autocast(x.device.type, enabled=False):
            x, weight = x.to(cd), weight.to(cd)
            pairs = x.unflatten(-1, (-1, 2))
            second = pairs[..., 1]
            diff = pairs[..., 0] - second
            gate = torch.matmul(weight, diff).sigmoid_()
            out = torch.addcmul(second, diff, gate)
        ctx.save_for_backward(diff, gate, weight)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        diff, gate, weight = ctx.saved_tensors
        x_dtype, weight_dtype = ctx.dtypes
        with torch.autocast(grad.device.type, enabled=False):
            grad = grad.to(diff.dtype)
            # d out / d logits = grad * diff * gate * (1 - gate)
            grad_logits = grad * diff * gate * (1.0 - gate)
            grad_weight = torch.matmul(grad_logits, diff.transpose(-1, -2)).sum(dim=0, dtype=weight_dtype)
            grad_diff = torch.matmul(weight.t(), grad_logits).addcmul_(grad, gate)
            grad_x = grad.new_empty(*grad.shape[:-1], 2 * grad.shape[-1], dtype=x_dtype)
            pairs = grad_x.unflatten(-1, (-1, 2))
            pairs[..., 0] = grad_diff
            torch.sub(grad, grad_diff, out=grad_diff)
            pairs[..., 1] = grad_diff
        return grad_x, grad_weight, None


class SoftmaxPool1d(nn.Module):
    """Softmax ("attention") pooling by 2 with per-channel logits: (B, C, L) -> (B, C, L/2).

    Each output is a softmax-weighted mean of two neighbours, ``w = softmax(W x)`` over the pair,
    with ``W`` a (C, C) matrix initialised to ``2 * I`` (close to max pooling). For a pair the
    softmax weight of the first element is ``sigmoid(W x1 - W x2) = sigmoid(W (x1 - x2))``, so the
    logits are computed once on the difference at half length instead of twice at full length.
    The weight is stored as a 1x1 convolution (``logits.weight``, shape (C, C, 1)).
    """

    def __init__(self, channels: int, init_scale: float = 2.0) -> None:
        super().__init__()
        self.logits = nn.Conv1d(channels, channels, 1, bias=False)
        with torch.no_grad():
            self.logits.weight.copy_(init_scale * torch.eye(channels)[:, :, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2:
            raise ValueError(f"softmax pooling needs an even length, got {x.shape[-1]}")
        weight = self.logits.weight[:, :, 0]
        if _fusable(x):
            return _PairSoftmaxPool.apply(x, weight, _compute_dtype(x))
        pairs = x.unflatten(-1, (-1, 2))
        second = pairs[..., 1]
        diff = pairs[..., 0] - second
        return torch.addcmul(second, diff, torch.matmul(weight.to(diff.dtype), diff).sigmoid_())


class ResidualPointwise(nn.Module):
    """x + ConvBlock(C, C, kernel 1)(x): (B, C, L) -> (B, C, L)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = ConvBlock(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x).add_(x)  # in place: the block's output is not needed by its backward


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
