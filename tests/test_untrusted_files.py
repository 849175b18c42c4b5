"""A checkpoint or model file with a pickle payload is refused before it can run code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from enformer_lite.errors import InputError
from enformer_lite.inference.checkpoint import load_checkpoint
from enformer_lite.model.checkpoint import load_model
from test_train_support import write_h5


class Payload:
    """Unpickling this calls ``os.system`` (what a crafted file would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def crafted(path: Path, marker: Path, wrap: str) -> Path:
    """A torch file whose content runs ``touch marker`` when loaded without weights_only."""
    blob = {"hyper_parameters": {"model_config": {}}, "state_dict": {"w": torch.zeros(1)}, "x": Payload(marker)}
    if wrap == "model":
        blob = {"model_config": {}, "state_dict": {"w": torch.zeros(1)}, "x": Payload(marker)}
    torch.save(blob, path)
    return path


def test_the_payload_really_runs_when_loaded_unsafely(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.load(crafted(tmp_path / "x.ckpt", marker, "ckpt"), weights_only=False)
    assert marker.exists()  # the crafted file is a real attack, so refusing it means something


@pytest.mark.parametrize("loader, wrap", [(load_checkpoint, "ckpt"), (load_model, "model")])
def test_crafted_files_are_refused(tmp_path: Path, loader, wrap: str) -> None:  # noqa: ANN001
    marker = tmp_path / "ran"
    path = crafted(tmp_path / "evil.pt", marker, wrap)
    with pytest.raises(InputError, match=rf"{path}: refused: the file holds Python objects"):
        loader(path)
    assert not marker.exists()


def test_cli_refuses_a_crafted_checkpoint_with_a_clear_message(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ckpt = crafted(tmp_path / "best.ckpt", marker, "ckpt")
    weights = crafted(tmp_path / "pytorch_model.bin", marker, "model")
    data = write_h5(tmp_path / "data.h5", "human", ["train", "test"])
    for args in (["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--out", str(tmp_path / "e.tsv")],
                 ["import-weights", "--input", str(weights), "--out", str(tmp_path / "m.pt")]):
        result = subprocess.run([sys.executable, "-m", "enformer_lite.cli", *args], capture_output=True, text=True)
        assert result.returncode != 0
        assert "refused" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not marker.exists()
    assert not (tmp_path / "e.tsv").exists() and not (tmp_path / "m.pt").exists()
