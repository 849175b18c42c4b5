"""Training: losses, schedule, overfitting a batch, checkpoints that rebuild the model, resume."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import h5py
import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from scipy.special import gammaln

from enformer_lite.errors import InputError
from enformer_lite.training.config import OptimConfig, TrainConfig
from enformer_lite.training.data import EnformerDataModule
from enformer_lite.training.losses import group_share_loss, poisson_loss, poisson_multinomial_loss
from enformer_lite.data.h5 import read_meta, split_indices
from enformer_lite.training.dataset import target_means
from enformer_lite.inference.checkpoint import load_checkpoint
from enformer_lite.training.module import EnformerModule, init_output_bias, lr_factor
from enformer_lite.training.train import train
from test_train_support import TinyModel, mouse_tracks, write_h5

QUIET = {"progress_bar": False, "log_every_n_steps": 1}


def test_poisson_loss_matches_log_pmf() -> None:
    rng = np.random.default_rng(0)
    pred = rng.gamma(2.0, 1.0, size=(2, 5, 3))
    target = rng.poisson(2.0, size=(2, 5, 3)).astype(float)
    # -log P(y | rate) = rate - y log rate + log y!; the loss drops the constant log y!.
    expected = np.mean(-stats.poisson.logpmf(target, pred) - gammaln(target + 1))
    got = poisson_loss(torch.tensor(pred), torch.tensor(target)).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_poisson_multinomial_matches_distributions() -> None:
    rng = np.random.default_rng(1)
    pred = rng.gamma(2.0, 1.0, size=(2, 6, 3))
    target = rng.poisson(3.0, size=(2, 6, 3)).astype(float)
    weight = 0.3
    expected = []
    for b in range(2):
        for t in range(3):
            y, p = target[b, :, t], pred[b, :, t]
            n = y.sum()
            # multinomial: -log P(y | n, p/sum p) without the coefficient log n! - sum log y_i!
            multinomial = -stats.multinomial.logpmf(y, n, p / p.sum()) + gammaln(n + 1) - gammaln(y + 1).sum()
            total = -stats.poisson.logpmf(n, p.sum()) - gammaln(n + 1)
            expected.append((multinomial + weight * total) / 6)
    got = poisson_multinomial_loss(torch.tensor(pred), torch.tensor(target), total_weight=weight).item()
    assert got == pytest.approx(np.mean(expected), rel=1e-6)


def test_group_share_loss_is_the_multinomial_over_each_groups_tracks() -> None:
    rng = np.random.default_rng(2)
    pred = rng.gamma(2.0, 1.0, size=(2, 4, 5))
    target = rng.poisson(3.0, size=(2, 4, 5)).astype(float)
    groups = np.zeros((5, 2))
    groups[[0, 2], 0] = 1
    groups[[3, 4], 1] = 1  # groups {0, 2} and {3, 4}; track 1 is in none
    mask = np.ones((2, 4))
    mask[1, 2] = 0
    expected = 0.0
    for b in range(2):
        for i in range(4):
            if not mask[b, i]:
                continue
            for members in ([0, 2], [3, 4]):
                y, p = target[b, i, members], pred[b, i, members]
                n = y.sum()
                # -log P(y | n, shares) without the coefficient log n! - sum log y_t!
                expected += -stats.multinomial.logpmf(y, n, p / p.sum()) + gammaln(n + 1) - gammaln(y + 1).sum()
    expected /= mask.sum() * 5
    got = group_share_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(groups), torch.tensor(mask)).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_poisson_of_a_group_splits_into_its_total_and_the_shares() -> None:
    """The identity behind train.specificity_weight: over one group of tracks, the per-track Poisson
    likelihood is the Poisson of the group total times the multinomial of the shares."""
    rng = np.random.default_rng(3)
    pred = rng.gamma(2.0, 1.0, size=(1, 6, 3))
    target = rng.poisson(3.0, size=(1, 6, 3)).astype(float)
    n_values = 6 * 3
    per_track = poisson_loss(torch.tensor(pred), torch.tensor(target)).item() * n_values
    total = np.sum(-stats.poisson.logpmf(target.sum(-1), pred.sum(-1)) - gammaln(target.sum(-1) + 1))
    shares = group_share_loss(torch.tensor(pred), torch.tensor(target), torch.ones(3, 1)).item() * n_values
    assert per_track == pytest.approx(total + shares, rel=1e-6)  # up to the losses' log(x + 1e-8)


def test_specificity_weight_adds_the_share_loss_of_same_assay_tracks() -> None:
    tracks = [
        {"index": 0, "id": "dnase_a", "file": "a.bw", "assay": "DNASE", "strand": ".", "strand_pair": 0, "sum_stat": "sum",
         "scale": 1.0},
        {"index": 1, "id": "cage_plus", "file": "p.bw", "assay": "CAGE", "strand": "+", "strand_pair": 2, "sum_stat": "sum",
         "scale": 1.0},
        {"index": 2, "id": "cage_minus", "file": "m.bw", "assay": "CAGE", "strand": "-", "strand_pair": 1,
         "sum_stat": "sum", "scale": 1.0},
        {"index": 3, "id": "dnase_b", "file": "b.bw", "assay": "dnase", "strand": ".", "strand_pair": 3, "sum_stat": "sum",
         "scale": 1.0},
    ]
    ids = [t["id"] for t in tracks]
    model = TinyModel({"human": 4}, target_length=8, bin_size=16)
    batch = {"organism": "human", "x": torch.nn.functional.one_hot(torch.randint(0, 4, (2, 256)), 4).float(),
             "y": torch.poisson(torch.full((2, 8, 4), 3.0))}
    plain = EnformerModule(model, {}, {"human": ids}, data_meta={"human": {"tracks": tracks}})
    weighted = EnformerModule(model, {}, {"human": ids}, OptimConfig(specificity_weight=2.5),
                              data_meta={"human": {"tracks": tracks}})
    with torch.no_grad():
        pred, target, base = plain._step(batch)
        _, _, loss = weighted._step(batch)
    # Only the two DNase tracks (assay compared in any case, strands equal) form a group; the CAGE
    # strands differ. Recomputed by hand: -y log(share) over those two tracks, per bin and track.
    p, y = pred[..., [0, 3]].double(), target[..., [0, 3]].double()
    share_nll = -(y * torch.log(p / p.sum(-1, keepdim=True))).sum() / (2 * 8 * 4)
    assert loss.item() == pytest.approx(base.item() + 2.5 * share_nll.item(), rel=1e-5)
    assert weighted.share_groups["human"].tolist() == [[1.0], [0.0], [0.0], [1.0]]
    with pytest.raises(InputError, match="train.specificity_weight"):
        TrainConfig.from_dict({"specificity_weight": -1})
    # Off, the setting stays out of the fingerprint, so runs started before it existed still resume.
    assert "specificity_weight" not in TrainConfig.from_dict({}).learning_fingerprint()
    assert TrainConfig.from_dict({"specificity_weight": 1.0}).learning_fingerprint()["specificity_weight"] == 1.0


def test_lr_schedule_shape() -> None:
    # warm-up: linear to the peak
    assert lr_factor(0, 10, 110, "cosine", 0.0) == pytest.approx(0.1)
    assert lr_factor(9, 10, 110, "cosine", 0.0) == pytest.approx(1.0)
    # cosine: half-way through the decay is the mid-point between peak and floor
    assert lr_factor(60, 10, 110, "cosine", 0.2) == pytest.approx(0.2 + 0.8 * 0.5)
    assert lr_factor(110, 10, 110, "cosine", 0.2) == pytest.approx(0.2)
    assert lr_factor(35, 10, 110, "linear", 0.0) == pytest.approx(0.75)
    assert lr_factor(35, 10, 110, "cosine", 0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))


def test_output_bias_starts_at_the_mean_target(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "human.h5", "human", ["train", "valid", "train", "train"], seed=8)
    with h5py.File(path, "r") as f:
        expected = f["targets"][[0, 2, 3]].astype(np.float64).mean(axis=(0, 1))  # train rows only
    meta = read_meta(path)
    means = target_means(meta, split_indices(path, "train"))
    np.testing.assert_allclose(means, expected, rtol=1e-12)
    model = TinyModel({"human": 3, "mouse": 2}, target_length=8, bin_size=16)
    assert init_output_bias(model, {"human": means}) == ["human"]
    bias = model.heads["human"].bias.detach().double()
    np.testing.assert_allclose(torch.nn.functional.softplus(bias).numpy(), expected, rtol=1e-5)


def test_tiny_model_overfits_one_batch(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "human.h5", "human", ["train"] * 4 + ["valid"], targets="planted", seed=3)
    dm = EnformerDataModule({"human": path}, batch_size=4)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))  # unaugmented
    L.seed_everything(0)
    model = TinyModel({"human": 3}, target_length=8, bin_size=16, channels=16)
    module = EnformerModule(model, {}, {"human": ["a", "b", "c"]})
    y = batch["y"]
    # The smallest possible Poisson loss: prediction equal to the target.
    floor = poisson_loss(y.clamp_min(1e-8), y).item()
    before = poisson_loss(module(batch["x"], "human"), y).item() - floor
    optimizer = torch.optim.Adam(module.parameters(), lr=0.03)
    for _ in range(300):
        optimizer.zero_grad()
        loss = poisson_loss(module(batch["x"], "human"), y)
        loss.backward()
        optimizer.step()
    after = poisson_loss(module(batch["x"], "human"), y).item() - floor
    assert after < before / 10


class CrashAt(L.Callback):
    """Simulates a killed job: raises once training reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step >= self.step:
            raise RuntimeError("simulated crash")


class SigtermAt(L.Callback):
    """Sends this process SIGTERM during step ``step``, as Snakemake or SLURM would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


class FirstStep(L.Callback):
    """Records the global step at which this attempt started."""

    def __init__(self) -> None:
        self.first: int | None = None

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if self.first is None:
            self.first = trainer.global_step


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    return {
        "human": write_h5(tmp_path / "human.h5", "human", ["train"] * 4 + ["valid"] * 2 + ["test"], targets="planted"),
        "mouse": write_h5(tmp_path / "mouse.h5", "mouse", ["train"] * 2 + ["valid"], tracks=mouse_tracks(),
                          targets="planted", seed=5),
    }


def test_resume_continues_global_step(tmp_path: Path, data: dict[str, Path]) -> None:
    cfg = TrainConfig.from_dict({"max_steps": 12, "batch_size": 2, "val_check_interval": 4,
                                 "checkpoint_every_n_steps": 3, "warmup_steps": 2, **QUIET})
    out = tmp_path / "model"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(data, out, {"channels": 8}, cfg, callbacks=[CrashAt(7)], builder=TinyModel.from_dict)
    assert not (out / "best.ckpt").exists() and not (out / "metrics.csv").exists()  # nothing published
    first = FirstStep()
    train(data, out, {"channels": 8}, cfg, callbacks=[first], builder=TinyModel.from_dict)
    assert first.first == 6  # last checkpoint of the crashed attempt (every 3 steps)
    _, meta = load_checkpoint(out / "last.ckpt", builder=TinyModel.from_dict)
    assert meta["global_step"] == 12
    metrics = pd.read_csv(out / "metrics.csv")
    train_steps = metrics.dropna(subset=["train/loss"])["step"].tolist()
    assert train_steps == list(range(12))  # steps 0-5 from the first attempt, 6-11 from the second, no repeats
    assert metrics.dropna(subset=["val/loss"])["step"].tolist() == [3, 7, 11]


def test_sigterm_saves_the_current_step(tmp_path: Path, data: dict[str, Path]) -> None:
    cfg = TrainConfig.from_dict({"max_steps": 8, "batch_size": 2, "val_check_interval": 4,
                                 "checkpoint_every_n_steps": 4, **QUIET})
    out = tmp_path / "model"
    with pytest.raises(SystemExit) as stopped:
        train(data, out, {"channels": 8}, cfg, callbacks=[SigtermAt(5)], builder=TinyModel.from_dict)
    assert stopped.value.code == 143  # not 0: the job did not finish
    first = FirstStep()
    train(data, out, {"channels": 8}, cfg, callbacks=[first], builder=TinyModel.from_dict)
    assert first.first == 6  # step 5 completed before stopping; the periodic checkpoint was at 4


def test_changed_settings_start_afresh(tmp_path: Path, data: dict[str, Path]) -> None:
    base = {"batch_size": 2, "val_check_interval": 2, "checkpoint_every_n_steps": 2, **QUIET}
    out = tmp_path / "model"
    train(data, out, {"channels": 8}, TrainConfig.from_dict({"max_steps": 2, **base}), builder=TinyModel.from_dict)
    first = FirstStep()
    train(data, out, {"channels": 8}, TrainConfig.from_dict({"max_steps": 4, "lr": 1e-3, **base}),
          callbacks=[first], builder=TinyModel.from_dict)
    assert first.first == 0


def test_checkpoint_alone_rebuilds_the_model(tmp_path: Path, data: dict[str, Path]) -> None:
    cfg = TrainConfig.from_dict({"max_steps": 4, "batch_size": 2, "val_check_interval": 2, **QUIET})
    out = train(data, tmp_path / "model", {"channels": 8}, cfg, builder=TinyModel.from_dict)
    model, meta = load_checkpoint(out / "last.ckpt", builder=TinyModel.from_dict)
    raw = torch.load(out / "last.ckpt", map_location="cpu", weights_only=False)
    # Independent rebuild from the stored state dict.
    twin = TinyModel({"human": 3, "mouse": 2}, target_length=8, bin_size=16, channels=8)
    twin.load_state_dict({k.removeprefix("model."): v for k, v in raw["state_dict"].items() if k.startswith("model.")})
    twin.eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 256)), 4).float()
    torch.testing.assert_close(model(x, head="mouse"), twin(x, head="mouse"))
    assert meta["track_ids"] == {"human": ["cage_plus", "cage_minus", "dnase"], "mouse": ["m_dnase", "m_atac"]}
    assert meta["data_meta"]["human"]["tracks"][0]["clip_soft"] == 4.0
    assert meta["model_config"]["heads"] == {"human": 3, "mouse": 2}


def test_unknown_train_key_is_rejected() -> None:
    with pytest.raises(InputError, match="config train: unknown key.*max_step"):
        TrainConfig.from_dict({"max_step": 3})
    with pytest.raises(InputError, match="train.loss"):
        TrainConfig.from_dict({"loss": "mse"})
    with pytest.raises(InputError, match="multiple of train.val_check_interval"):
        TrainConfig.from_dict({"max_steps": 300, "val_check_interval": 200})


def test_a_collapsed_track_lowers_the_validation_score() -> None:
    """Constant predictions for one track (no correlation) count as r = 0, not as a missing value."""
    import math

    module = EnformerModule(TinyModel({"human": 2}, target_length=8, bin_size=16), {}, {"human": ["a", "b"]})
    target = torch.rand(4, 8, 2)
    pred = target.clone()
    pred[..., 1] = 0.5  # collapsed
    from enformer_lite.metrics import update_pearson

    update_pearson(module.val_pearson["human"], pred.reshape(-1, 2), target.reshape(-1, 2))
    module.val_loss["human"].update(torch.tensor(1.0))
    module.val_loss_all.update(torch.tensor(1.0))
    logged = {k: float(v) for k, v in module.validation_scores().items()}
    assert math.isnan(logged["val/human/pearson/b"])
    assert logged["val/pearson"] == pytest.approx(0.5)  # (1 + 0) / 2, where nanmean would give 1
