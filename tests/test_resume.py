"""Killed and resumed training equals uninterrupted training; one training per output directory.

Every run here is a separate process started like a user's job (``train()``, the function
``enformer-lite train`` calls). The kills are deterministic: a test-only callback, passed in
by the driver script below, sends the process SIGTERM (as Snakemake or a SLURM time limit
does) or SIGKILL (no chance to save anything) at a chosen step, during training or during
validation. Nothing depends on timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from enformer_lite.errors import InputError
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.resume import AtomicCheckpointIO, run_lock
from enformer_lite.training.train import LOCK, RUN_DIR, train
from test_train_support import REAL_TINY_MODEL, TinyModel, mouse_tracks, write_h5

DRIVER = '''
import json, os, signal, sys
import lightning as L
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train


class Stop(L.Callback):
    """Test hook: at global step `step` of `phase`, send this process `sig` (or, for "wait", block on stdin)."""

    def __init__(self, sig, step, phase):
        self.sig, self.step, self.phase = sig, step, phase

    def _at(self, trainer, phase):
        if self.phase == phase and trainer.global_step == self.step:
            if self.sig == "wait":
                print("waiting", flush=True)
                sys.stdin.read()
            else:
                os.kill(os.getpid(), getattr(signal, self.sig))

    def on_train_batch_start(self, trainer, *args):
        self._at(trainer, "train")

    def on_validation_batch_start(self, trainer, *args):
        self._at(trainer, "validation")


args = json.loads(sys.argv[1])
stops = [Stop(*args["stop"])] if args.get("stop") else []
train(args["data"], args["outdir"], args["model"], TrainConfig.from_dict(args["train"]), callbacks=stops)
'''

TRAIN = {"max_steps": 16, "batch_size": 2, "val_check_interval": 4, "checkpoint_every_n_steps": 3, "warmup_steps": 2,
         "lr": 3e-3, "seed": 11, "progress_bar": False, "log_every_n_steps": 1}
MODEL = {**REAL_TINY_MODEL, "dropout": 0.2}  # dropout: the random state must be restored too


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE"))}
    env["OMP_NUM_THREADS"] = "1"
    return env


def start(tmp: Path, outdir: Path, data: dict[str, str], stop: list[Any] | None = None, **train_overrides: Any) -> subprocess.Popen:
    """Start one training attempt as its own process (``stop``: [signal name or "wait", step, phase])."""
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    args = {"data": data, "outdir": str(outdir), "model": MODEL, "train": {**TRAIN, **train_overrides}, "stop": stop}
    return subprocess.Popen([sys.executable, str(driver), json.dumps(args)], env=clean_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def attempt(tmp: Path, outdir: Path, data: dict[str, str], stop: list[Any] | None = None, **train_overrides: Any) -> int:
    """Run one attempt to its end; returns its exit status (negative: killed by that signal)."""
    process = start(tmp, outdir, data, stop, **train_overrides)
    _, err = process.communicate(timeout=600)
    if process.returncode not in (0, 143, -signal.SIGKILL):
        raise AssertionError(err[-4000:])
    return process.returncode


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # 4 batches of 2 per organism: a data epoch is 8 steps, so 16 steps cross an epoch boundary.
    root = tmp_path_factory.mktemp("data")
    human = write_h5(root / "human.h5", "human", ["train"] * 8 + ["valid"] * 3, targets="planted", seed=1)
    mouse = write_h5(root / "mouse.h5", "mouse", ["train"] * 4 + ["valid"] * 2, tracks=mouse_tracks(),
                     targets="planted", seed=2)
    return {"human": str(human), "mouse": str(mouse)}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, data: dict[str, str]) -> Path:
    tmp = tmp_path_factory.mktemp("uninterrupted")
    assert attempt(tmp, tmp / "model", data) == 0
    return tmp / "model"


def assert_same_run(expected: Path, got: Path) -> None:
    """Identical weights, optimiser state, best checkpoint and metrics."""
    for name in ("last.ckpt", "best.ckpt"):
        a = torch.load(expected / name, map_location="cpu", weights_only=False)
        b = torch.load(got / name, map_location="cpu", weights_only=False)
        assert a["global_step"] == b["global_step"], name
        assert a["state_dict"].keys() == b["state_dict"].keys()
        for key, value in a["state_dict"].items():
            assert torch.equal(value, b["state_dict"][key]), f"{name}: {key} differs"
        for state_a, state_b in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a), f"{name}: optimiser state differs"
    metrics_a, metrics_b = pd.read_csv(expected / "metrics.csv"), pd.read_csv(got / "metrics.csv")
    pd.testing.assert_frame_equal(metrics_a, metrics_b, check_exact=True)


def test_repeated_kills_resume_to_the_uninterrupted_run(tmp_path: Path, data: dict[str, str], uninterrupted: Path) -> None:
    out = tmp_path / "model"
    # SIGTERM mid-step (in the first data epoch); SIGKILL two steps after the checkpoint at 9 (they are
    # redone); SIGTERM during a validation (it is finished first); then the rest.
    stops = [["SIGTERM", 5, "train"], ["SIGKILL", 11, "train"], ["SIGTERM", 12, "validation"], None]
    codes = [attempt(tmp_path, out, data, stop) for stop in stops]
    assert codes == [143, -signal.SIGKILL, 143, 0]
    assert len(list((out / RUN_DIR / "logs").glob("version_*"))) == 4
    assert_same_run(uninterrupted, out)
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics.dropna(subset=["train/loss"])["step"].tolist() == list(range(16))  # no step lost or repeated
    assert metrics.dropna(subset=["val/loss"])["step"].tolist() == [3, 7, 11, 15]
    assert metrics.dropna(subset=["train/human/loss"])["step"].tolist() == [3, 7, 11, 15]


def test_resume_with_dataloader_workers(tmp_path: Path, data: dict[str, str], uninterrupted: Path) -> None:
    """Workers hold no random state (the sampler draws the augmentations): same run for any num_workers."""
    out = tmp_path / "model"
    assert attempt(tmp_path, out, data, ["SIGKILL", 7, "train"], num_workers=2) == -signal.SIGKILL
    assert attempt(tmp_path, out, data, num_workers=2) == 0
    assert_same_run(uninterrupted, out)


def test_second_training_of_an_outdir_is_refused(tmp_path: Path, data: dict[str, str]) -> None:
    out = tmp_path / "model"
    first = start(tmp_path, out, data, ["wait", 2, "train"], max_steps=4, val_check_interval=2)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "waiting"  # holds the lock, mid-run
        second = subprocess.run(
            [sys.executable, "-m", "enformer_lite.cli", "train", "--data", f"human={data['human']}",
             "--outdir", str(out), "--params", json.dumps({"model": MODEL, "train": {**TRAIN, "max_steps": 4}})],
            env=clean_env(), capture_output=True, text=True, timeout=600,
        )
        assert second.returncode == 2
        assert str(out) in second.stderr and f"PID {first.pid}" in second.stderr
        assert "another training is running" in second.stderr
    finally:
        _, err = first.communicate("", timeout=600)  # release the first run
    assert first.returncode == 0, err[-4000:]  # undisturbed by the refused one
    assert torch.load(out / "last.ckpt", map_location="cpu", weights_only=False)["global_step"] == 4


def test_stale_temporary_files_are_removed_at_the_next_start(tmp_path: Path) -> None:
    data = {"human": write_h5(tmp_path / "human.h5", "human", ["train"] * 4 + ["valid"] * 2, targets="planted")}
    out = tmp_path / "model"
    checkpoints = out / RUN_DIR / "checkpoints"
    checkpoints.mkdir(parents=True)
    stale = [checkpoints / ".last.ckpt.tmp4242", out / ".best.ckpt.tmp77", out / ".metrics.csv.tmp9",
             out / RUN_DIR / ".fingerprint.json.tmp5"]
    others = [out / ".notes.txt.tmp3", out / "notes.txt"]  # not written by training: left alone
    for path in stale + others:
        path.write_bytes(b"half-written")
    cfg = TrainConfig.from_dict({"max_steps": 2, "batch_size": 2, "val_check_interval": 2, "progress_bar": False})
    train(data, out, {"channels": 8}, cfg, builder=TinyModel.from_dict)
    assert not [p for p in stale if p.exists()]
    assert all(p.exists() for p in others)
    assert not [p.name for p in checkpoints.iterdir() if ".tmp" in p.name]


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, path)
    assert torch.load(path, weights_only=True) == {"step": 1} and os.listdir(tmp_path) == ["last.ckpt"]

    def dies_mid_write(obj: object, f: Path) -> None:
        Path(f).write_bytes(b"trunc")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}  # the previous checkpoint is intact


def test_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    """The refusal names the directory and the holder's PID; a holder killed hard leaves no lock."""
    lock = tmp_path / RUN_DIR / LOCK
    code = f"""
import sys
from pathlib import Path
from enformer_lite.training.resume import run_lock
with run_lock(Path({str(tmp_path)!r}), Path({str(lock)!r})):
    print("locked", flush=True)
    sys.stdin.read()
"""
    holder = subprocess.Popen([sys.executable, "-c", code], env=clean_env(), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match=rf"{tmp_path}: another training is running.*PID {holder.pid}"):
            with run_lock(tmp_path, lock):
                pass
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.communicate(timeout=600)
    assert lock.read_text().strip() == str(holder.pid)  # the dead holder's PID is still written there
    with run_lock(tmp_path, lock):  # but the kernel released its lock
        assert lock.read_text().strip() == str(os.getpid())
