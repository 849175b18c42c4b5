"""Distributed data parallel: two CPU processes (gloo) train through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_train_support import REAL_TINY_MODEL, mouse_tracks, write_h5


@pytest.mark.skipif(
    not (hasattr(os, "fork") and torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs process creation and the gloo backend",
)
def test_two_process_ddp_training_completes(tmp_path: Path) -> None:
    human = write_h5(tmp_path / "human.h5", "human", ["train"] * 5 + ["valid"] * 3, targets="planted")
    mouse = write_h5(tmp_path / "mouse.h5", "mouse", ["train"] * 3 + ["valid"], tracks=mouse_tracks(), seed=3)
    params = {
        "model": REAL_TINY_MODEL,
        "train": {
            "max_steps": 4, "batch_size": 2, "val_check_interval": 2, "checkpoint_every_n_steps": 2,
            "progress_bar": False, "log_every_n_steps": 1,
            "trainer": {"accelerator": "cpu", "devices": 2, "strategy": "ddp"},
        },
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE"))}
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "enformer_lite.cli", "train", "--data", f"human={human}", "--data", f"mouse={mouse}",
         "--outdir", str(tmp_path / "model"), "--params", json.dumps(params)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in result.stderr
    ckpt = torch.load(tmp_path / "model" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert (tmp_path / "model" / "best.ckpt").stat().st_size > 0
    assert "val/pearson" in (tmp_path / "model" / "metrics.csv").read_text().splitlines()[0]
