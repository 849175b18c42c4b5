"""bf16 autocast on the CPU: the hand-written kernels (fused BatchNorm-GELU-conv, softmax pooling, relative
attention) against float32 and against plain-PyTorch reference paths, and `precision: auto`."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from enformer_lite.model import ModelConfig, build_model
from enformer_lite.model.attention import _probabilities, relative_attention
from enformer_lite.model.layers import ConvBlock, SoftmaxPool1d
from enformer_lite.training import config as train_config
from enformer_lite.training.config import TrainerConfig
from test_model import conv_block_pair, unfused

BF16 = torch.bfloat16


def autocast(enabled: bool = True) -> torch.autocast:
    return torch.autocast("cpu", dtype=BF16, enabled=enabled)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest deviation relative to the reference's largest magnitude."""
    a, b = a.detach().float(), b.detach().float()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.detach().float().flatten(), b.detach().float().flatten(), dim=0))


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset("tiny", heads={"human": 4}, target_length=8, dropout=0.0,
                                  attention_dropout=0.0, positional_dropout=0.0)
    model = build_model(cfg)
    for block in model.transformer:  # the zero-initialised output would hide the attention
        torch.nn.init.normal_(block.attn.to_out.weight, std=0.2)
    return model


def one_hot(batch: int, length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return F.one_hot(torch.randint(0, 4, (batch, length), generator=g), 4).float()


def run(model: torch.nn.Module, x: torch.Tensor, bf16: bool, reference: bool = False,
        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Output and parameter gradients of one forward + backward; ``reference`` takes the plain-PyTorch
    paths (the attention weights' own path, which runs the plain formula, and the unfused layers)."""
    model.zero_grad(set_to_none=True)
    with autocast(bf16):
        out = model(x, head="human", return_attention=True)[0] if reference else model(x, head="human")
    out.float().square().mean().backward()
    return out.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def flat(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.float().flatten() for _, g in sorted(grads.items())])


def test_tiny_model_under_bf16_autocast_matches_float32() -> None:
    """With fixed BatchNorm statistics (eval mode, dropout off) every parameter's gradient under bf16
    autocast points where float32's does, and the outputs agree to bf16's precision."""
    model = tiny_model().eval()
    x = one_hot(2, 32 * 128)
    ref_model = copy.deepcopy(model)
    out32, grads32 = run(ref_model, x, bf16=False)
    out16, grads16 = run(model, x, bf16=True)
    assert rel_err(out16, out32) < 3e-2
    assert grads16.keys() == grads32.keys()
    for name, g in grads16.items():
        assert g.dtype == torch.float32, name  # parameter gradients stay float32 (autocast's master weights)
        assert cosine(g, grads32[name]) > 0.99, name


def test_training_mode_bf16_equals_the_plain_pytorch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training mode (batch statistics): the fused kernels under bf16 autocast against the same network
    through plain PyTorch ops under bf16 autocast. (Against float32 a freshly drawn network in training
    mode is chaotic: perturbing its weights by 0.4 % in float32 moves the outputs by ~8 %, which bf16
    rounding does too, so the float32 comparison is made with fixed statistics, above.)"""
    from enformer_lite.model import layers

    model = tiny_model().train()
    x = one_hot(2, 32 * 128)
    plain = copy.deepcopy(model)
    ref32 = copy.deepcopy(model)
    out16, grads16 = run(model, x, bf16=True)
    run(ref32, x, bf16=False)
    monkeypatch.setattr(layers, "_fusable", lambda _: False)
    out_ref, grads_ref = run(plain, x, bf16=True, reference=True)
    assert out16.dtype == out_ref.dtype == BF16
    assert rel_err(out16, out_ref) < 3e-2
    assert grads16.keys() == grads_ref.keys()
    assert cosine(flat(grads16), flat(grads_ref)) > 0.99
    for name, g in grads16.items():
        assert g.dtype == torch.float32 and bool(torch.isfinite(g).all()), name
    # BatchNorm statistics stay float32 and, where the chaos has not yet grown (the first blocks), equal float32's.
    for (name, buf), ref in zip(model.named_buffers(), ref32.buffers()):
        if name.endswith(("running_mean", "running_var")):
            assert buf.dtype == torch.float32, name
            if name.startswith(("stem.", "tower.0.")):
                assert rel_err(buf, ref) < 3e-2, name


def test_bf16_inference_matches_float32() -> None:
    model = tiny_model().eval()
    x = one_hot(2, 32 * 128)
    with torch.no_grad():
        full = model(x, head="human")
        with autocast():
            half = model(x, head="human")
    assert rel_err(half, full) < 3e-2


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (5, 1), (3, 2)])
def test_fused_conv_block_under_autocast(training: bool, kernel: int, dilation: int) -> None:
    """The fused block's dtypes, and its values against BatchNorm -> GELU -> Conv1d in nn layers, both under autocast."""
    torch.manual_seed(3)
    block, ref = conv_block_pair(8, 6, kernel, dilation, training)
    x = torch.randn(2, 8, 256).to(BF16).requires_grad_(True)  # a bf16 activation, as the previous conv gives
    x_ref = x.detach().clone().requires_grad_(True)
    weights = torch.randn(2, 6, 256)
    with autocast():
        y = block(x)
        assert y.dtype == BF16 and y.grad_fn is not None and "NormActConv" in type(y.grad_fn).__name__
        y_ref = unfused(ref, x_ref)
    (y.float() * weights).sum().backward()
    (y_ref.float() * weights).sum().backward()
    assert rel_err(y, y_ref) < 3e-2
    assert x.grad.dtype == BF16 and cosine(x.grad, x_ref.grad) > 0.99
    for (name, p), p_ref in zip(block.named_parameters(), ref.parameters()):
        assert p.grad.dtype == torch.float32, name
        assert cosine(p.grad, p_ref.grad) > 0.99, name
    assert block.norm.running_mean.dtype == block.norm.running_var.dtype == torch.float32
    torch.testing.assert_close(block.norm.running_mean, ref.norm.running_mean, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(block.norm.running_var, ref.norm.running_var, rtol=1e-3, atol=1e-3)


def test_fused_conv_block_keeps_float32_statistics_of_a_float32_input() -> None:
    """A float32 input under autocast (the model's first block after a float32 op): stats in float32, product in bf16."""
    torch.manual_seed(4)
    block = ConvBlock(4, 4, 3).train()
    x = (3.0 + torch.randn(1, 4, 512)).requires_grad_(True)
    plain = copy.deepcopy(block)
    with autocast():
        y = block(x)
    plain(x.detach())
    assert y.dtype == BF16 and x.dtype == torch.float32
    torch.testing.assert_close(block.norm.running_mean, plain.norm.running_mean)
    y.float().sum().backward()
    assert x.grad.dtype == torch.float32


def test_softmax_pool_under_autocast_against_naive_pooling() -> None:
    torch.manual_seed(5)
    pool = SoftmaxPool1d(6)
    with torch.no_grad():
        pool.logits.weight.add_(0.3 * torch.randn_like(pool.logits.weight))
    x = torch.randn(2, 6, 64).to(BF16).requires_grad_(True)
    x_ref = x.detach().float().requires_grad_(True)
    weight = pool.logits.weight[:, :, 0].detach().clone().requires_grad_(True)
    with autocast():
        y = pool(x)
    assert y.dtype == BF16 and "PairSoftmaxPool" in type(y.grad_fn).__name__
    pairs = x_ref.unflatten(-1, (-1, 2))  # (B, C, L, 2): softmax over the pair of W x
    logits = torch.einsum("oc,bclp->bolp", weight, pairs)
    y_ref = (pairs * logits.softmax(-1)).sum(-1)
    g = torch.randn_like(y_ref)
    (y.float() * g).sum().backward()
    (y_ref * g).sum().backward()
    assert rel_err(y, y_ref) < 3e-2
    assert x.grad.dtype == BF16 and cosine(x.grad, x_ref.grad) > 0.99
    assert pool.logits.weight.grad.dtype == torch.float32
    assert cosine(pool.logits.weight.grad[:, :, 0], weight.grad) > 0.99


def test_relative_attention_under_autocast_against_reference() -> None:
    """bf16 inputs (what autocast's projections give): computed in float32 inside, output and grads in bf16."""
    torch.manual_seed(6)
    b, h, t, kd, vd = 2, 2, 24, 8, 6
    base = [torch.randn(b, h, t, kd), torch.randn(b, h, t, kd), torch.randn(b, h, t, kd), torch.randn(b, h, t, vd),
            torch.randn(h, 2 * t - 1, kd)]
    lo = [x.to(BF16).requires_grad_(True) for x in base]
    ref = [x.detach().float().requires_grad_(True) for x in lo]
    with autocast():
        out = relative_attention(*lo)
    assert out.dtype == BF16
    expected = torch.matmul(_probabilities(*ref[:3], ref[4]), ref[3])
    g = torch.randn_like(expected)
    (out.float() * g).sum().backward()
    (expected * g).sum().backward()
    assert rel_err(out, expected) < 3e-2
    for x, x_ref in zip(lo, ref):
        assert x.grad.dtype == BF16
        assert cosine(x.grad, x_ref.grad) > 0.99


def test_lightning_bf16_mixed_autocasts_the_kernels_on_cpu() -> None:
    """Lightning's `bf16-mixed` on the CPU really runs the model's products in bf16 (a hook sees bf16 conv inputs)."""
    import lightning as L

    model = tiny_model()
    seen: list[torch.dtype] = []
    grad_fns: list[str] = []
    conv = model.tower[0].conv

    def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        seen.append(out.dtype)
        grad_fns.append(type(out.grad_fn).__name__)

    conv.register_forward_hook(hook)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def training_step(self, batch: torch.Tensor, _: int) -> torch.Tensor:
            return self.net(batch, head="human").float().mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=1e-3)

        def train_dataloader(self) -> torch.utils.data.DataLoader:
            return torch.utils.data.DataLoader(one_hot(2, 32 * 128), batch_size=2)

    trainer = L.Trainer(accelerator="cpu", devices=1, precision="bf16-mixed", max_steps=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Module())
    assert seen == [BF16] and "NormActConv" in grad_fns[0]


def test_precision_auto_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(train_config, "cpu_has_native_bf16", lambda: True)
    assert TrainerConfig().resolved_precision() == "bf16-mixed"
    assert TrainerConfig().resolved_precision(window_length=196_608) == "bf16-mixed"
    assert TrainerConfig().resolved_precision(window_length=2048) == "32-true"  # short windows: slower in bf16
    monkeypatch.setattr(train_config, "cpu_has_native_bf16", lambda: False)
    assert TrainerConfig().resolved_precision() == "32-true"
    assert TrainerConfig(accelerator="gpu").resolved_precision() == "bf16-mixed"
    assert TrainerConfig(precision="32-true", accelerator="gpu").resolved_precision() == "32-true"


def test_native_bf16_detection_reads_the_cpu_flags() -> None:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = set(next(line for line in fh if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo")
    expected = bool(flags & {"avx512_bf16", "amx_bf16"}) and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert train_config.cpu_has_native_bf16() is expected
