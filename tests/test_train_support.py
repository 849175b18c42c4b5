"""Shared helpers for the training tests: tiny ``data.h5`` files and a tiny stand-in model.

No tests live here; the files follow the HDF5 contract of the project docs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import nn

WINDOW_LENGTH = 256
BIN_SIZE = 16
TARGET_LENGTH = 8  # 16 bins per window, 4 cropped on each side
# The real network at the "tiny" preset, pooling to 16 bp bins (2 ** (num_conv_tower + 1)).
REAL_TINY_MODEL = {"preset": "tiny", "num_conv_tower": 3, "dropout": 0.0}

# Two stranded CAGE tracks (a pair) and one unstranded DNase track.
TRACKS = [
    {"index": 0, "id": "cage_plus", "file": "cage+.bw", "assay": "CAGE", "strand": "+", "strand_pair": 1,
     "sum_stat": "sum", "clip_soft": 4.0, "clip": None, "scale": 0.5, "description": "CAGE + strand"},
    {"index": 1, "id": "cage_minus", "file": "cage-.bw", "assay": "CAGE", "strand": "-", "strand_pair": 0,
     "sum_stat": "sum", "clip_soft": 4.0, "clip": None, "scale": 0.5, "description": "CAGE - strand"},
    {"index": 2, "id": "dnase", "file": "dnase.bw", "assay": "DNASE", "strand": ".", "strand_pair": 2,
     "sum_stat": "mean", "clip_soft": None, "clip": None, "scale": 2.0, "description": "DNase"},
]


def planted_targets(codes: np.ndarray, n_tracks: int) -> np.ndarray:
    """A learnable sequence → signal rule: per bin, GC count (and AT count) of the central target bins.

    codes (N, WINDOW_LENGTH) → float32 (N, TARGET_LENGTH, n_tracks).
    """
    crop = (WINDOW_LENGTH // BIN_SIZE - TARGET_LENGTH) // 2
    bins = codes.reshape(codes.shape[0], -1, BIN_SIZE)[:, crop : crop + TARGET_LENGTH]
    gc = ((bins == 1) | (bins == 2)).sum(-1).astype(np.float32)
    at = ((bins == 0) | (bins == 3)).sum(-1).astype(np.float32)
    cols = [gc / 4.0, at / 4.0, (gc + 1.0) / 8.0][:n_tracks]
    cols += [gc / 8.0] * (n_tracks - len(cols))
    return np.stack(cols, axis=-1)


def write_h5(
    path: Path,
    genome: str,
    splits: Sequence[str],
    tracks: Sequence[Mapping[str, Any]] = tuple(TRACKS),
    seed: int = 0,
    targets: str = "random",
    chrom_prefix: str = "chr",
) -> Path:
    """Write a contract-following ``data.h5`` with one window per entry of ``splits``.

    ``targets`` is ``random`` (independent gamma noise, for exact-equality checks) or
    ``planted`` (:func:`planted_targets`, for learning checks).
    """
    rng = np.random.default_rng(seed)
    n, n_tracks = len(splits), len(tracks)
    codes = rng.integers(0, 4, size=(n, WINDOW_LENGTH), dtype=np.uint8)
    codes[rng.random(codes.shape) < 0.02] = 4
    if targets == "planted":
        values = planted_targets(codes, n_tracks)
    else:
        values = rng.gamma(2.0, 1.0, size=(n, TARGET_LENGTH, n_tracks)).astype(np.float32)
    windows = np.zeros(n, dtype=[("chrom", "S8"), ("start", "<i8"), ("end", "<i8"), ("split", "S5")])
    for i, split in enumerate(splits):
        windows[i] = (f"{chrom_prefix}{1 + i % 3}".encode(), i * WINDOW_LENGTH, (i + 1) * WINDOW_LENGTH, split.encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("sequence", data=codes, chunks=(1, WINDOW_LENGTH))
        f.create_dataset("targets", data=values.astype(np.float16), chunks=(1, TARGET_LENGTH, n_tracks))
        f.create_dataset("windows", data=windows)
        f.attrs.update({
            "genome": genome, "window_length": WINDOW_LENGTH, "bin_size": BIN_SIZE,
            "target_length": TARGET_LENGTH, "tracks": json.dumps(list(tracks)), "fingerprint": f"{genome}-{seed}",
        })
    return path


def mouse_tracks() -> list[dict[str, Any]]:
    """A second organism with two unstranded tracks."""
    return [
        {**TRACKS[2], "index": 0, "id": "m_dnase", "strand_pair": 0},
        {**TRACKS[2], "index": 1, "id": "m_atac", "assay": "ATAC", "strand_pair": 1},
    ]


class TinyModel(nn.Module):
    """Stand-in for the real network with the same call: (B, L, 4) → softplus (B, target_length, T).

    One conv layer, average pooling to bins, a crop and a per-organism pointwise head.
    """

    def __init__(self, heads: Mapping[str, int], target_length: int, bin_size: int, channels: int = 16) -> None:
        super().__init__()
        self.target_length = target_length
        self.conv = nn.Conv1d(4, channels, kernel_size=5, padding=2)
        self.pool = nn.AvgPool1d(bin_size)
        self.heads = nn.ModuleDict({name: nn.Linear(channels, n) for name, n in heads.items()})

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> TinyModel:
        return cls(config["heads"], config["target_length"], config["bin_size"], config.get("channels", 16))

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        h = self.pool(torch.relu(self.conv(x.transpose(1, 2))))  # (B, C, bins)
        crop = (h.shape[-1] - self.target_length) // 2
        h = h[..., crop : crop + self.target_length].transpose(1, 2)
        return nn.functional.softplus(self.heads[head](h))


def held_out_pearson(checkpoint: Path, data: Path, head: str = "human") -> list[float]:
    """Per-track Pearson r of a checkpoint's predictions against the targets over every bin of the
    ``test`` windows of ``data`` (N windows × bins pooled per track)."""
    from scipy import stats

    from enformer_lite.inference.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    with h5py.File(data) as h5:
        rows = np.flatnonzero(h5["windows"]["split"][:] == b"test")
        codes, targets = h5["sequence"][rows.tolist()], h5["targets"][rows.tolist()].astype(np.float32)
    x = torch.from_numpy(np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])[codes])
    with torch.no_grad():
        pred = model.eval()(x, head=head).numpy()
    return [float(stats.pearsonr(pred[..., t].ravel(), targets[..., t].ravel()).statistic) for t in range(targets.shape[-1])]
