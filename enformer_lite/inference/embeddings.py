"""Trunk embeddings cached per window (``train.finetune: head``), in an HDF5 file next to ``data.h5``.

``embeddings.h5`` holds, row for row with ``data.h5``:

- ``embeddings``: float16 (N, target_length, 2C), the frozen trunk's output of the window as stored
  (no shift, forward strand), one chunk per row; rows of splits not cached are zero;
- ``cached``: bool (N,), which rows hold an embedding (the ``train`` and ``valid`` windows);
- attrs ``data_fingerprint`` (of ``data.h5``), ``source`` (the pretrained model) and ``dim`` (2C).

Each epoch of ``head`` fine-tuning then reads (target_length × 2C) numbers per window instead of
running the trunk; it costs 2 × target_length × 2C bytes per window (5.5 MB at the published size,
172 KB for ``dim=48``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import h5py
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from enformer_lite.atomic import atomic_output
from enformer_lite.data.dataset import WindowRows, collate_organism_batch
from enformer_lite.data.h5 import read_meta, split_indices

log = logging.getLogger(__name__)

CACHED_SPLITS = ("train", "valid")


def write_embeddings(
    model: nn.Module, data: str | os.PathLike[str], out: str | os.PathLike[str], source: str,
    batch_size: int = 2, device: str | torch.device = "cpu", splits: Sequence[str] = CACHED_SPLITS,
) -> int:
    """Run ``model.trunk`` (eval mode, no gradients) over the ``splits`` windows of ``data``; returns the count."""
    meta = read_meta(data)
    rows = np.sort(np.concatenate([split_indices(meta.path, s) for s in splits]))
    model = model.to(device).eval()
    dim = int(model.trunk(torch.zeros(1, meta.window_length, 4, device=device)).shape[-1]) if len(rows) else 0
    dataset = WindowRows(meta, rows, organism=meta.genome)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_organism_batch)
    with atomic_output(out) as tmp, h5py.File(tmp, "w") as h5:
        table = h5.create_dataset("embeddings", (meta.n_windows, meta.target_length, dim), dtype="float16",
                                  chunks=(1, meta.target_length, max(dim, 1)))
        cached = np.zeros(meta.n_windows, dtype=bool)
        with torch.no_grad():
            for batch in loader:
                values = model.trunk(batch["x"].to(device)).float().cpu().numpy().astype(np.float16)
                for row, value in zip(batch["index"].tolist(), values):
                    table[row] = value
                    cached[row] = True
        h5.create_dataset("cached", data=cached)
        h5.attrs.update({"data_fingerprint": meta.fingerprint, "source": source, "dim": dim})
    dataset.close()
    log.info("%s: cached the trunk embeddings (dim %d) of %d %s windows", out, dim, len(rows), "/".join(splits))
    return len(rows)
