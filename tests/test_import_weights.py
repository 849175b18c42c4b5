"""Weight import from enformer-pytorch: same outputs after conversion; clear errors for bad state dicts.

enformer-pytorch computes its gamma positional features differently from the published TensorFlow
model except at exactly 1536 bins, where it substitutes a stored table (``use_tf_gamma=True``, which
it refuses at any other length). A 1536-bin input is 196,608 bp, too slow for a unit test, so the
equivalence test runs at short lengths with enformer-pytorch's default features and gives our model
the matching switch, ``positional_gamma="enformer_pytorch"``. That our default ("tf") features equal
the published table at 1536 bins is tested in tests/test_positional.py.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from enformer_lite.cli import main
from enformer_lite.errors import InputError
from enformer_lite.model import ModelConfig, build_model, load_model
from enformer_lite.model.convert import ConversionError, convert_state_dict, infer_config

enformer_pytorch = pytest.importorskip("enformer_pytorch")


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    """A small enformer-pytorch model with random weights and random BatchNorm statistics."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        model = enformer_pytorch.Enformer.from_hparams(
            dim=48, depth=2, heads=2, attn_dim_key=16, output_heads=dict(human=5, mouse=3),
            target_length=8, num_downsamples=7, dim_divisible_by=8,
        )
    with torch.no_grad():
        for p in model.parameters():  # also un-zeroes the zero-initialised attention outputs
            p.add_(0.1 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(0.0, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
    return model.eval()


def base_config(**overrides: object) -> ModelConfig:
    settings: dict[str, object] = {"target_length": 8, "positional_gamma": "enformer_pytorch", **overrides}
    return ModelConfig.from_preset("enformer", **settings)


def one_hot(length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (2, length), generator=g), 4).float()


def test_inferred_config(reference: torch.nn.Module) -> None:
    cfg = infer_config(reference.state_dict(), base_config())
    assert (cfg.channels, cfg.num_heads, cfg.key_size, cfg.num_transformer_layers) == (48, 2, 16, 2)
    assert cfg.num_conv_tower == 6 and cfg.channel_divisor == 8
    assert cfg.heads == {"human": 5, "mouse": 3}


@pytest.mark.parametrize("bins", [16, 40])
def test_converted_model_reproduces_enformer_pytorch(reference: torch.nn.Module, bins: int) -> None:
    cfg = infer_config(reference.state_dict(), base_config())
    model = build_model(cfg)
    model.load_state_dict(convert_state_dict(reference.state_dict(), cfg))
    model.eval()
    x = one_hot(bins * 128)
    with torch.no_grad():
        for head in ("human", "mouse"):
            expected = reference(x, head=head)
            got = model(x, head=head)
            assert float(expected.std()) > 0.05  # a non-trivial output to compare
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model.trunk(x), reference(x, return_only_embeddings=True), rtol=1e-4, atol=1e-5)


def test_tf_features_change_the_output_away_from_1536(reference: torch.nn.Module) -> None:
    cfg = infer_config(reference.state_dict(), base_config(positional_gamma="tf"))
    model = build_model(cfg)
    model.load_state_dict(convert_state_dict(reference.state_dict(), cfg))
    x = one_hot(16 * 128)
    with torch.no_grad():
        assert (model.eval()(x, head="human") - reference(x, head="human")).abs().max() > 1e-3


def test_missing_unexpected_and_misshaped_keys_are_named(reference: torch.nn.Module) -> None:
    source = reference.state_dict()
    cfg = infer_config(source, base_config())
    missing = {k: v for k, v in source.items() if "to_rel_k" not in k}
    with pytest.raises(ConversionError, match=r"transformer\.0\.attn\.to_rel_k\.weight"):
        convert_state_dict(missing, cfg)
    with pytest.raises(ConversionError, match="stem.9.weight"):
        convert_state_dict({**source, "stem.9.weight": torch.zeros(1)}, cfg)
    bad = dict(source)
    bad["transformer.1.1.fn.1.bias"] = torch.zeros(7)
    bad["_trunk.4.1.1.fn.1.bias"] = torch.zeros(7)
    with pytest.raises(ConversionError, match=r"transformer\.1\.1\.fn\.1\.bias.*\(7,\)"):
        convert_state_dict(bad, cfg)
    with pytest.raises(ConversionError, match="differs from its alias"):
        convert_state_dict({**source, "_trunk.4.1.1.fn.1.bias": torch.zeros(96)}, cfg)
    smaller = ModelConfig.from_dict({**cfg.to_dict(), "num_transformer_layers": 1})
    with pytest.raises(ConversionError, match=r"transformer\.1\."):
        convert_state_dict(source, smaller)


def test_cli_writes_a_loadable_model(reference: torch.nn.Module, tmp_path) -> None:  # noqa: ANN001
    source = tmp_path / "enformer.pt"
    torch.save({f"module.{k}": v for k, v in reference.state_dict().items()}, source)
    out = tmp_path / "model" / "lite.pt"
    status = main([
        "import-weights", "--input", str(source), "--output", str(out),
        "--config-json", '{"target_length": 8, "positional_gamma": "enformer_pytorch"}',
    ])
    assert status == 0
    model = load_model(out)
    assert model.config.heads == {"human": 5, "mouse": 3} and model.config.dropout == 0.4
    x = one_hot(24 * 128)
    with torch.no_grad():
        torch.testing.assert_close(model(x, head="mouse"), reference(x, head="mouse"), rtol=1e-4, atol=1e-5)


def test_cli_reports_bad_input(tmp_path, capsys) -> None:  # noqa: ANN001
    broken = tmp_path / "broken.pt"
    broken.write_text("not a torch file")
    assert main(["import-weights", "--input", str(broken), "--output", str(tmp_path / "x.pt")]) == 2
    assert "broken.pt" in capsys.readouterr().err
    torch.save({"stem.0.weight": torch.zeros(2, 4, 15)}, broken)
    assert main(["import-weights", "--input", str(broken), "--output", str(tmp_path / "x.pt")]) == 2
    assert "final_pointwise.1.2.weight" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(InputError):
        from enformer_lite.cli.import_weights import _read_overrides

        _read_overrides("[1, 2]")


@pytest.mark.parametrize("safe", [True, False])
def test_a_save_pretrained_directory_is_read_with_its_config(reference: torch.nn.Module, tmp_path, safe: bool) -> None:  # noqa: ANN001
    """enformer-pytorch's own save_pretrained output: config.json picks the positional features, no flag needed."""
    from enformer_lite.model.pretrained import read_pretrained

    directory = tmp_path / "pretrained"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if safe:
            # enformer-pytorch's save_pretrained refuses safetensors (its trunk aliases tensors);
            # safetensors' own save_model stores one copy of each, as uploaded checkpoints do
            from safetensors.torch import save_model

            reference.config.save_pretrained(directory)
            save_model(reference, str(directory / "model.safetensors"))
        else:
            reference.save_pretrained(directory, safe_serialization=False)
    assert (directory / ("model.safetensors" if safe else "pytorch_model.bin")).is_file()
    pretrained = read_pretrained(directory)
    assert pretrained.config.positional_gamma == "enformer_pytorch"  # config.json: use_tf_gamma false
    assert pretrained.config.target_length == 8 and pretrained.config.heads == {"human": 5, "mouse": 3}
    model = build_model(pretrained.config)
    model.load_state_dict(pretrained.state_dict)
    x = one_hot(16 * 128)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x, head="human"), reference(x, head="human"), rtol=1e-4, atol=1e-5)
    out = tmp_path / "lite.pt"
    assert main(["import-weights", "--input", str(directory), "--output", str(out)]) == 0
    with torch.no_grad():
        torch.testing.assert_close(load_model(out)(x, head="mouse"), reference(x, head="mouse"), rtol=1e-4, atol=1e-5)


def test_use_tf_gamma_and_bad_directories(reference: torch.nn.Module, tmp_path) -> None:  # noqa: ANN001
    import json

    from enformer_lite.model.pretrained import read_pretrained

    directory = tmp_path / "tf"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.save_pretrained(directory, safe_serialization=False)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "use_tf_gamma": True}))
    assert read_pretrained(directory).config.positional_gamma == "tf"
    (directory / "pytorch_model.bin").unlink()
    with pytest.raises(InputError, match="needs config.json and one of model.safetensors, pytorch_model.bin"):
        read_pretrained(directory)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match=f"{broken}: not a readable safetensors file"):
        read_pretrained(broken)
