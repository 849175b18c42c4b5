"""Model config, layer shapes, attention, pooling, GELU, receptive field and model files."""

from __future__ import annotations

import math

import pytest
import torch

from enformer_lite.model import ModelConfig, build_model, load_model, receptive_field, save_model
from enformer_lite.model.layers import ConvBlock, SoftmaxPool1d, gelu

HEADS = {"human": 5, "mouse": 3}


def one_hot(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """Random one-hot DNA (B, L, 4) with a few N (all-zero) positions."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (batch, length), generator=g), 4).float()
    x[:, ::97] = 0.0
    return x


def tiny(**overrides: object) -> ModelConfig:
    base = dict(heads=HEADS, target_length=8)
    return ModelConfig.from_preset("tiny", **{**base, **overrides})


# --------------------------------------------------------------------------- config
def test_presets_have_published_enformer_sizes() -> None:
    cfg = ModelConfig.from_preset("enformer")
    assert (cfg.channels, cfg.num_transformer_layers, cfg.num_heads, cfg.key_size) == (1536, 11, 8, 64)
    assert cfg.value_size == 192 and cfg.num_positional_features == 192
    assert cfg.tower_channels == [768, 896, 1024, 1152, 1280, 1536]
    assert cfg.bin_size == 128 and cfg.target_length == 896
    assert cfg.heads == {"human": 5313, "mouse": 1643}
    assert (cfg.dropout, cfg.attention_dropout, cfg.positional_dropout) == (0.4, 0.05, 0.01)
    lite = ModelConfig.from_preset("lite", heads={"human": 8, "mouse": 4}, target_length=896, attention=True)
    assert 96 <= lite.channels <= 192 and lite.heads == {"human": 8, "mouse": 4}


def test_config_round_trip_and_errors() -> None:
    cfg = tiny(attention=False, pooling="max")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key"):
        ModelConfig.from_dict({**cfg.to_dict(), "chanels": 4})
    with pytest.raises(ValueError, match="unknown preset"):
        ModelConfig.from_preset("huge")
    with pytest.raises(ValueError, match="pooling"):
        tiny(pooling="mean")
    with pytest.raises(ValueError, match="divisible by 6"):
        tiny(channels=32, channel_divisor=8)
    with pytest.raises(ValueError, match="channel_divisor"):
        tiny(channels=36)
    heads = {"human": 2}
    cfg = tiny(heads=heads)
    heads["human"] = 9
    assert cfg.heads == {"human": 2}


def test_dilations_follow_basenji_schedule() -> None:
    assert tiny().dilations == [1, 2, 2, 3, 5, 8, 11, 17, 26, 38, 58]


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(("bins", "target"), [(16, 8), (24, 8), (40, 16), (64, 64)])
def test_shapes_at_every_stage(bins: int, target: int) -> None:
    cfg = tiny(target_length=target)
    model = build_model(cfg).eval()
    length = bins * cfg.bin_size
    x = one_hot(2, length)
    h = model.stem(x.transpose(1, 2))
    assert h.shape == (2, cfg.channels // 2, length // 2)
    for i, block in enumerate(model.tower):
        h = block(h)
        assert h.shape == (2, cfg.tower_channels[i], length // 2 ** (i + 2))
    assert h.shape == (2, cfg.channels, bins)
    t = h.transpose(1, 2)
    for block in model.transformer:
        t, _ = block(t)
        assert t.shape == (2, bins, cfg.channels)
    assert model.trunk(x).shape == (2, target, 2 * cfg.channels)
    assert model(x, head="human").shape == (2, target, 5)
    out = model.forward_all(x)
    assert {k: v.shape for k, v in out.items()} == {"human": (2, target, 5), "mouse": (2, target, 3)}
    assert bool((out["mouse"] >= 0).all())


def test_cnn_only_and_max_pool_shapes() -> None:
    for cfg in (tiny(attention=False), tiny(pooling="max")):
        model = build_model(cfg).eval()
        assert model(one_hot(1, 24 * 128), head="mouse").shape == (1, 8, 3)
    assert len(build_model(tiny(attention=False)).transformer) == 0


def test_crop_takes_the_central_bins() -> None:
    model = build_model(tiny(target_length=4)).eval()
    x = torch.arange(10.0)[None, :, None]
    assert model._crop(x)[0, :, 0].tolist() == [3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    ("shape", "message"),
    [((1, 16 * 128 + 4, 4), "multiple of the bin size"), ((1, 15 * 128, 4), "cropped"),
     ((1, 6 * 128, 4), "cropped"), ((1, 16 * 128, 5), "one-hot")],
)
def test_bad_input_lengths_are_rejected(shape: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_model(tiny())(torch.zeros(shape), head="human")


def test_unknown_head_is_named() -> None:
    with pytest.raises(KeyError, match="rat"):
        build_model(tiny())(one_hot(1, 16 * 128), head="rat")


# --------------------------------------------------------------------------- attention
def test_attention_weights_explain_the_fast_path() -> None:
    """The explicit softmax path (which returns weights) and the fused SDPA path agree."""
    torch.manual_seed(0)
    model = build_model(tiny(num_transformer_layers=2))
    for block in model.transformer:  # the published zero init would make attention a no-op
        torch.nn.init.normal_(block.attn.to_out.weight, std=0.2)
    model.eval()
    x = one_hot(2, 16 * 128)
    with torch.no_grad():
        fast = model(x, head="human")
        slow, attention = model(x, head="human", return_attention=True)
    torch.testing.assert_close(slow, fast, rtol=1e-5, atol=1e-6)
    assert len(attention) == 2
    for weights in attention:
        assert weights.shape == (2, 2, 16, 16)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 16))


def test_attention_logits_use_relative_positions() -> None:
    """Logits of one head recomputed by hand: (q + u) k + (q + w) r[j - i]."""
    torch.manual_seed(1)
    attn = build_model(tiny()).transformer[0].attn.eval()
    x = torch.randn(1, 6, 48)
    _, weights = attn(x, return_attention=True)
    from enformer_lite.model.positional import positional_features

    q = attn.to_q(x)[0].view(6, 2, 16)[:, 0] / 4.0
    k = attn.to_k(x)[0].view(6, 2, 16)[:, 0]
    r = attn.to_rel_k(positional_features(6, 24)).view(11, 2, 16)[:, 0]
    u, w = attn.content_bias[0, 0, 0], attn.position_bias[0, 0, 0]
    logits = torch.empty(6, 6)
    for i in range(6):
        for j in range(6):
            logits[i, j] = (q[i] + u) @ k[j] + (q[i] + w) @ r[j - i + 5]
    torch.testing.assert_close(weights[0, 0], logits.softmax(-1), rtol=1e-5, atol=1e-6)


def test_training_mode_backward_reaches_every_parameter() -> None:
    model = build_model(tiny()).train()
    for block in model.transformer:
        torch.nn.init.normal_(block.attn.to_out.weight, std=0.2)
    model(one_hot(2, 16 * 128), head="human").sum().backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None and not n.startswith("heads.mouse")]
    assert unused == []


# --------------------------------------------------------------------------- layers
def test_softmax_pool_equals_naive_softmax_pooling() -> None:
    torch.manual_seed(2)
    pool = SoftmaxPool1d(5)
    torch.nn.init.normal_(pool.logits.weight)
    x = torch.randn(3, 5, 8)
    w = pool.logits.weight[:, :, 0]
    pairs = x.view(3, 5, 4, 2)  # (B, C, L/2, 2)
    logits = torch.einsum("oc,bcnp->bonp", w, pairs)
    expected = (pairs * logits.softmax(-1)).sum(-1)
    torch.testing.assert_close(pool(x), expected)


def test_gelu_gradient_matches_autograd_of_formula() -> None:
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gelu, (x,))
    y = torch.linspace(-4, 4, 9, dtype=torch.float64)
    torch.testing.assert_close(gelu(y), y / (1 + torch.exp(-1.702 * y)))


# --------------------------------------------------------------------------- receptive field
def _influence_span(cfg: ModelConfig, bins: int) -> tuple[int, int, int]:
    """First and last input position whose gradient reaches the centre output bin, and that bin."""
    torch.manual_seed(3)
    model = build_model(cfg).eval()
    x = one_hot(1, bins * cfg.bin_size, seed=3).requires_grad_(True)
    out = model.trunk(x)
    centre = cfg.target_length // 2
    out[0, centre].sum().backward()
    touched = torch.nonzero(x.grad[0].abs().sum(-1) > 0).flatten()
    first_bin = (bins - cfg.target_length) // 2 + centre
    return int(touched[0]), int(touched[-1]), first_bin * cfg.bin_size


@pytest.mark.parametrize("layers", [11, 3])
def test_cnn_receptive_field_by_gradient(layers: int) -> None:
    cfg = tiny(attention=False, num_dilated_layers=layers, channels=24, target_length=64, channel_divisor=4)
    first, last, bin_start = _influence_span(cfg, bins=512)
    assert last - first + 1 == receptive_field(cfg)
    assert first < bin_start and bin_start + cfg.bin_size - 1 < last
    if layers == 11:
        assert 40_000 <= receptive_field(cfg) <= 50_000


def test_attention_model_sees_the_whole_input() -> None:
    cfg = tiny(target_length=8)
    model = build_model(cfg)
    for block in model.transformer:
        torch.nn.init.normal_(block.attn.to_out.weight, std=0.2)
    model.eval()
    x = one_hot(1, 32 * 128).requires_grad_(True)
    model.trunk(x)[0, 4].sum().backward()
    assert bool((x.grad[0].abs().sum(-1) > 0).all())
    assert receptive_field(cfg) is None


# --------------------------------------------------------------------------- model files
def test_save_and_load_model(tmp_path) -> None:  # noqa: ANN001
    cfg = tiny()
    model = build_model(cfg).eval()
    path = tmp_path / "m.pt"
    save_model(path, cfg, model.state_dict())
    loaded = load_model(path)
    assert loaded.config == cfg
    x = one_hot(1, 16 * 128)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, head="human"), model(x, head="human"))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    with torch.no_grad():
        assert math.isfinite(float(loaded(x, head="mouse").sum()))


# --------------------------------------------------------------------------- fused kernels
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("block", [1 << 20, 20])
def test_relative_attention_gradients(dropout: float, block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Backward (which recomputes the probabilities, block by block) against finite differences."""
    from enformer_lite.model import attention

    monkeypatch.setattr(attention, "_BLOCK_ELEMENTS", block)  # 20: query rows in blocks of 2, 2, 1
    g = torch.Generator().manual_seed(4)
    b, h, t = 1, 2, 5
    args = [torch.randn(b, h, t, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    args.append(torch.randn(b, h, t, 6, generator=g, dtype=torch.float64, requires_grad=True))
    args.append(torch.randn(h, 2 * t - 1, 4, generator=g, dtype=torch.float64, requires_grad=True))

    def fn(*a: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)  # the same dropout mask at every evaluation
        return attention.relative_attention(*a, dropout_p=dropout)

    assert torch.autograd.gradcheck(fn, tuple(args))


def test_relative_attention_equals_plain_formula() -> None:
    from enformer_lite.model.attention import relative_attention
    from enformer_lite.model.positional import relative_shift

    g = torch.Generator().manual_seed(5)
    qc, qp, k = (torch.randn(2, 2, 7, 4, generator=g) for _ in range(3))
    v, rk = torch.randn(2, 2, 7, 3, generator=g), torch.randn(2, 13, 4, generator=g)
    logits = qc @ k.transpose(-1, -2) + relative_shift(qp @ rk.transpose(-1, -2))
    expected = torch.nn.functional.scaled_dot_product_attention(qc, k, v, attn_mask=relative_shift(
        qp @ rk.transpose(-1, -2)), scale=1.0)
    torch.testing.assert_close(relative_attention(qc, qp, k, v, rk), expected)
    torch.testing.assert_close(relative_attention(qc, qp, k, v, rk), logits.softmax(-1) @ v)


def conv_block_pair(c_in: int, c_out: int, kernel: int, dilation: int, training: bool) -> tuple[ConvBlock, ConvBlock]:
    """A fused ConvBlock with random BatchNorm state and a copy to run as nn layers in sequence
    (:func:`unfused`); the copy's momentum 1 matches the block's zero-debiased first update."""
    import copy

    block = ConvBlock(c_in, c_out, kernel, dilation)
    with torch.no_grad():
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.normal_()
        block.norm.running_mean.normal_()
        block.norm.running_var.uniform_(0.5, 2.0)
    ref = copy.deepcopy(block)
    ref.norm.momentum = 1.0
    return block.train(training), ref.train(training)


def unfused(ref: ConvBlock, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm -> GELU (sigmoid approximation) -> Conv1d with the block's own layers."""
    normed = ref.norm(x)
    return ref.conv(normed * torch.sigmoid(1.702 * normed))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (5, 1), (3, 4)])
def test_conv_block_equals_batchnorm_gelu_conv(training: bool, kernel: int, dilation: int) -> None:
    """The fused block (folded GELU scale, recomputation in backward) against nn layers in sequence."""
    torch.manual_seed(6)
    block, ref = conv_block_pair(6, 7, kernel, dilation, training)
    x = torch.randn(3, 6, 40, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    weights = torch.randn(3, 7, 40)
    y = block(x)
    (y * weights).sum().backward()
    y_ref = unfused(ref, x_ref)
    (y_ref * weights).sum().backward()
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    for (name, p), p_ref in zip(block.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, p_ref.grad, rtol=1e-4, atol=1e-4, msg=name)
    torch.testing.assert_close(block.norm.running_mean, ref.norm.running_mean)
    torch.testing.assert_close(block.norm.running_var, ref.norm.running_var)
    assert int(block.norm.num_batches_tracked) == int(ref.norm.num_batches_tracked) == int(training)


def test_bfloat16_autocast_trains_and_stays_close() -> None:
    model = build_model(tiny())
    for block in model.transformer:
        torch.nn.init.normal_(block.attn.to_out.weight, std=0.2)
    x = one_hot(2, 16 * 128)
    model.eval()
    with torch.no_grad():
        full = model(x, head="human")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(x, head="human")
    torch.testing.assert_close(half.float(), full, rtol=0.05, atol=0.05)
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(x, head="human").float().mean()
    loss.backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all())
               for n, p in model.named_parameters() if not n.startswith("heads.mouse"))


def test_softmax_pool_gradients() -> None:
    pool = SoftmaxPool1d(3)
    weight = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 3, 8, dtype=torch.float64, requires_grad=True)
    from enformer_lite.model.layers import _PairSoftmaxPool

    assert torch.autograd.gradcheck(_PairSoftmaxPool.apply, (x, weight))
    # The float32 training path and the plain path agree.
    x32 = torch.randn(2, 3, 8)
    with torch.no_grad():
        plain = pool(x32)
    torch.testing.assert_close(pool(x32.requires_grad_(True)), plain)
