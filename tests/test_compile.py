"""`train.trainer.compile`: torch.compile (inductor) of the trunk gives eager's outputs, and any failure
falls back to eager with a warning."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch

from enformer_lite.errors import InputError
from enformer_lite.model import ModelConfig, build_model
from enformer_lite.model.network import compile_trunk
from enformer_lite.training.config import TrainConfig, TrainerConfig


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig.from_preset("tiny", heads={"human": 3}, target_length=4)).eval()


def one_hot(length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (1, length), generator=g), 4).float()


def test_compile_setting_is_parsed_and_checked() -> None:
    assert TrainerConfig().compile == "auto" and TrainerConfig().resolved_compile() is False
    assert TrainConfig.from_dict({"trainer": {"compile": "true"}}).trainer.resolved_compile() is True
    assert TrainConfig.from_dict({"trainer": {"compile": False}}).trainer.resolved_compile() is False
    with pytest.raises(InputError, match="train.trainer.compile"):
        TrainConfig.from_dict({"trainer": {"compile": "yes"}})


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="inductor's CPU backend needs a C++ compiler")
def test_compiled_trunk_gives_eager_outputs() -> None:
    model = tiny_model()
    x = one_hot(8 * 128)
    with torch.no_grad():
        eager = model(x, head="human")
        assert compile_trunk(model)
        compiled = model(x, head="human")
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    assert set(model.state_dict()) == set(tiny_model().state_dict())  # parameters untouched


def test_failing_compile_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_model()
    x = one_hot(8 * 128)
    with torch.no_grad():
        eager = model(x, head="human")

    def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", refuse)
    with caplog.at_level(logging.WARNING):
        assert not compile_trunk(model)
    assert "torch.compile failed" in caplog.text and "no compiler here" in caplog.text
    with torch.no_grad():
        torch.testing.assert_close(model(x, head="human"), eager)


def test_a_compiled_trunk_that_fails_when_called_goes_back_to_eager(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Inductor builds its kernels at the first call (where a missing compiler shows): that failure falls back too."""
    model = tiny_model()
    x = one_hot(8 * 128)
    with torch.no_grad():
        eager = model(x, head="human")

    def lazy_failure(fn: object, **_: object) -> object:
        def call(*args: object, **kwargs: object) -> None:
            raise RuntimeError("inductor: C++ compile error")

        return call

    monkeypatch.setattr(torch, "compile", lazy_failure)
    assert compile_trunk(model)
    with caplog.at_level(logging.WARNING), torch.no_grad():
        out = model(x, head="human")
    assert "falling back to eager" in caplog.text
    torch.testing.assert_close(out, eager)
    assert "trunk" not in model.__dict__  # eager for good
    with pytest.raises(ValueError, match="one-hot"):  # a bad input still raises as without compilation
        model(x[..., :3], head="human")
