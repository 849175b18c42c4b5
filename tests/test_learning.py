"""The real network learns: EnformerLite (tiny preset) trained by the real EnformerModule through
`train` (training step, AdamW, warm-up + cosine schedule, gradient clipping, augmentation) predicts a
sequence → signal rule on windows it never saw, so a broken training path fails the suite."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import torch

from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train
from test_train_support import BIN_SIZE, REAL_TINY_MODEL, TARGET_LENGTH, WINDOW_LENGTH, held_out_pearson, write_h5


def strand_consistent_targets(codes: np.ndarray) -> np.ndarray:
    """Per target bin: A count / 4 (track 0, + strand), T count / 4 (track 1, its − strand partner),
    GC count / 8 (track 2, unstranded). Reverse complementing the sequence maps track 0 onto the
    reversed track 1, as the augmentation assumes. codes (N, L) → (N, TARGET_LENGTH, 3)."""
    crop = (WINDOW_LENGTH // BIN_SIZE - TARGET_LENGTH) // 2
    bins = codes.reshape(codes.shape[0], -1, BIN_SIZE)[:, crop : crop + TARGET_LENGTH]
    a, t = (bins == 0).sum(-1), (bins == 3).sum(-1)
    gc = ((bins == 1) | (bins == 2)).sum(-1)
    return np.stack([a / 4.0, t / 4.0, gc / 8.0], axis=-1).astype(np.float32)


def test_the_real_network_learns_a_rule_on_held_out_windows(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    splits = ["train"] * 96 + ["valid"] * 8 + ["test"] * 32
    data = write_h5(tmp_path / "human.h5", "human", splits, seed=21)
    with h5py.File(data, "r+") as h5:
        h5["targets"][...] = strand_consistent_targets(h5["sequence"][:]).astype(np.float16)
    cfg = TrainConfig.from_dict({
        "max_steps": 200, "batch_size": 8, "val_check_interval": 100, "limit_val_batches": 1.0,
        "checkpoint_every_n_steps": 100, "progress_bar": False, "log_every_n_steps": 20,
        "lr": 3e-3, "warmup_steps": 20, "seed": 3,
    })
    started = time.process_time()
    out = train({"human": data}, tmp_path / "model", REAL_TINY_MODEL, cfg)
    cpu_seconds = time.process_time() - started
    for track, r in enumerate(held_out_pearson(out / "last.ckpt", data)):
        assert r > 0.8, f"track {track}: r = {r:.3f} on held-out windows after {cpu_seconds:.0f} CPU s"
