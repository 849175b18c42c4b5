"""LightningDataModule over one ``data.h5`` per organism.

Batches are dicts with ``x`` float32 one-hot (B, L, 4), ``y`` float32
(B, target_length, T_organism), ``organism`` (str, the same for the whole batch)
and ``index`` int64 (B,) rows in that organism's file.

Position: the data module counts the training batches handed to the model and keeps
the count in checkpoints (:meth:`EnformerDataModule.state_dict`); a resumed run's
training loader continues with the next batch of the same epoch, so an interrupted
run sees exactly the batches (and augmentations) of an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from enformer_lite.errors import InputError
from enformer_lite.training.config import AugmentConfig, SubWindowConfig
from enformer_lite.data.h5 import H5Meta, read_meta, split_indices
from enformer_lite.data.dataset import collate_organism_batch
from enformer_lite.data.tracks import specificity_groups
from enformer_lite.training.dataset import SubWindows, WindowConcat, WindowDataset
from enformer_lite.training.embeddings import EmbeddingDataset
from enformer_lite.training.sampler import AlternatingBatchSampler

log = logging.getLogger(__name__)


def check_compatible(metas: Mapping[str, H5Meta]) -> None:
    """All organisms must share the window geometry, and it must allow reverse complement."""
    first_name, first = next(iter(metas.items()))
    for name, meta in metas.items():
        for attr in ("window_length", "bin_size", "target_length"):
            if getattr(meta, attr) != getattr(first, attr):
                raise InputError(
                    f"{meta.path}: {attr}={getattr(meta, attr)} differs from {first.path} ({first_name}): "
                    f"{getattr(first, attr)}; all organisms must share the window geometry"
                )
        bins, rest = divmod(meta.window_length, meta.bin_size)
        if rest or (bins - meta.target_length) % 2 or bins < meta.target_length:
            raise InputError(
                f"{meta.path}: target bins are not centred in the window (window_length={meta.window_length}, "
                f"bin_size={meta.bin_size}, target_length={meta.target_length})"
            )


def evenly_spaced(
    indices: np.ndarray, limit: int | float, batch_size: int, n_organisms: int, world_size: int = 1
) -> np.ndarray:
    """A fixed sample of ``indices`` (one organism's rows of a split, in file order, so grouped by
    chromosome) spread evenly over all of them: every row for ``limit`` 1.0; a share for a float
    below 1; for an int, enough rows for ``limit`` batches over all organisms. Validation on such a
    sample sees every validation chromosome, not only the first windows of the first one."""
    n = len(indices)
    if isinstance(limit, float):
        keep = n if limit >= 1.0 else math.ceil(limit * n)
    else:  # ``limit`` batches per process, as Lightning's limit_val_batches
        keep = min(n, math.ceil(limit / max(1, n_organisms)) * batch_size * world_size)
    if keep >= n:
        return indices
    return indices[np.unique(np.linspace(0, n - 1, max(1, keep)).round().astype(int))]


class EnformerDataModule(L.LightningDataModule):
    """Train/valid/test loaders over ``data`` = {organism: path to data.h5}.

    The ``windows.split`` field of each file decides the split. Training batches
    are shuffled, augmented and cycle so that organisms take turns; evaluation
    batches visit each window of the split once, in file order.

    ``train_batches`` counts the training batches delivered so far (over all epochs
    and resumed attempts); it is the module's checkpointed state. ``embeddings``
    (organism → ``embeddings.h5``) serves cached trunk embeddings as ``x``
    (``finetune: head``); ``exclude`` (organism → rows) leaves rows out of the
    valid and test splits (windows that overlap the pretrained model's training regions).
    ``sub_windows`` (``train.sub_windows``) cuts the first training batches into sub-windows.
    """

    def __init__(
        self,
        data: Mapping[str, str | Path],
        batch_size: int,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        val_limit: int | float = 1.0,
        embeddings: Mapping[str, str | Path] | None = None,
        exclude: Mapping[str, np.ndarray] | None = None,
        sub_windows: SubWindowConfig | None = None,
    ) -> None:
        super().__init__()
        if not data:
            raise InputError("no data files given (expected organism=path/to/data.h5)")
        self.paths = {name: str(path) for name, path in data.items()}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.augment = augment if augment is not None else AugmentConfig()
        self.seed = seed
        self.val_limit = val_limit
        self.embeddings = {name: str(path) for name, path in (embeddings or {}).items()}
        self.exclude = {name: np.asarray(rows, dtype=np.int64) for name, rows in (exclude or {}).items()}
        self.sub_windows = sub_windows if sub_windows is not None and sub_windows.enabled else None
        self.metas: dict[str, H5Meta] = {}
        self._opened: list[WindowDataset] = []
        self.train_batches = 0

    def state_dict(self) -> dict[str, Any]:
        """Checkpointed position: the number of training batches already delivered."""
        return {"train_batches": self.train_batches}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the position saved by :meth:`state_dict` (before the loaders are built)."""
        self.train_batches = int(state_dict.get("train_batches", 0))

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Count each training batch as it is handed to a training step (prefetched ones are not yet counted)."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.training:
            self.train_batches += 1
        return batch

    @property
    def organisms(self) -> list[str]:
        return list(self.paths)

    def prepare_metas(self) -> dict[str, H5Meta]:
        """Read (once) and check every file's metadata."""
        if not self.metas:
            metas = {name: read_meta(path) for name, path in self.paths.items()}
            check_compatible(metas)
            self.metas = metas
        return self.metas

    def setup(self, stage: str | None = None) -> None:
        self.prepare_metas()

    def sub_window_geometry(self) -> SubWindows | None:
        """Where the training sub-windows lie (checked against the first file; all share one geometry)."""
        if self.sub_windows is None:
            return None
        meta = next(iter(self.prepare_metas().values()))
        return SubWindows.resolve(meta.geometry, self.sub_windows, meta.path)

    def split_dataset(
        self, split: str, limit: int | float = 1.0, sub_windows: SubWindows | None = None
    ) -> WindowConcat:
        """Concatenation (in organism order) of every organism's ``split`` windows, or of a fixed sample
        of them spread evenly over the split (``limit``: see :func:`evenly_spaced`), able to serve
        ``sub_windows``."""
        parts = []
        for name, meta in self.prepare_metas().items():
            indices = split_indices(meta.path, split)
            if split != "train" and name in self.exclude:
                indices = np.setdiff1d(indices, self.exclude[name])
            indices = evenly_spaced(indices, limit, self.eval_batch_size, len(self.paths), self._rank_world()[1])
            log.info("%s: %d %s windows", meta.path, len(indices), split)
            if name in self.embeddings:
                parts.append(EmbeddingDataset(meta, indices, name, self.embeddings[name]))
            else:
                parts.append(WindowDataset(meta, indices, organism=name, sub_windows=sub_windows))
        self._opened.extend(parts)
        return WindowConcat(parts)

    def teardown(self, stage: str | None = None) -> None:
        """Close the file handles this process opened (DataLoader workers close theirs on exit)."""
        for dataset in self._opened:
            dataset.close()
        self._opened.clear()

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(self, dataset: WindowConcat, sampler: AlternatingBatchSampler) -> DataLoader:
        # Workers draw nothing at random (the sampler does), and their seeds come from this
        # loader's own generator, so starting an epoch never advances the global torch RNG
        # (dropout's), which the checkpoint restores on resume.
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate_organism_batch,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled, augmented, cycling batches, continuing after the ``train_batches`` already trained."""
        geometry = self.sub_window_geometry()
        dataset = self.split_dataset("train", sub_windows=geometry)
        sizes = [len(d) for d in dataset.datasets]
        for name, n in zip(self.organisms, sizes):
            if n == 0:
                raise InputError(f"{self.paths[name]}: no windows with split 'train'")
        rank, world = self._rank_world()
        # Under a trainer with max_steps the loader's one pass is the whole run (see the sampler's ``length``).
        trainer = getattr(self, "trainer", None)
        length = trainer.max_steps if trainer is not None and trainer.max_steps > 0 else None
        cut = (0, 0)
        if geometry is not None and self.sub_windows is not None:  # both or neither
            if length is None:
                raise InputError("config train.sub_windows: needs a run with max_steps")
            cut = (self.sub_windows.steps(length), geometry.n_offsets)
            self._check_specificity_groups()
            log.info("sub-windows of %d bp (%d target bins) for the first %d of %d steps, %.0f %% centred on signal "
                     "(peak_mode %s)", geometry.length, geometry.target_length, cut[0], length,
                     100 * self.sub_windows.peak_fraction, self.sub_windows.peak_mode)
        sampler = AlternatingBatchSampler(
            sizes, self.batch_size, shuffle=True, cycle=True, seed=self.seed, rank=rank, world_size=world,
            augment=self.augment, length=length, sub_windows=cut,
            peak_fraction=self.sub_windows.peak_fraction if self.sub_windows is not None else 0.0,
        )
        sampler.skip_to(self.train_batches)
        return self._loader(dataset, sampler)

    def _check_specificity_groups(self) -> None:
        """``peak_mode: specific`` needs a specificity group: an error where no organism has one, a
        warning for each organism without (its peak-centred keys fall back to uniform offsets)."""
        if self.sub_windows is None or not self.sub_windows.peak_fraction or self.sub_windows.peak_mode != "specific":
            return
        lacking = [meta.path for meta in self.prepare_metas().values() if not specificity_groups(meta.tracks)]
        if len(lacking) == len(self.paths):
            raise InputError(
                f"config train.sub_windows.peak_mode specific: no specificity group (two or more tracks of one assay and "
                f"strand) in {', '.join(map(str, lacking))}; use peak_mode signal or add such tracks"
            )
        for path in lacking:
            log.warning("%s: no specificity group (two or more tracks of one assay and strand); its sub-windows are "
                        "placed uniformly under peak_mode specific", path)

    def eval_dataloader(self, split: str, limit: int | float = 1.0) -> DataLoader:
        """Each ``split`` window (of the ``limit`` sample) once (this rank's share), organisms alternating."""
        dataset = self.split_dataset(split, limit)
        rank, world = self._rank_world()
        sizes = [len(d) for d in dataset.datasets]
        sampler = AlternatingBatchSampler(sizes, self.eval_batch_size, shuffle=False, cycle=False, rank=rank, world_size=world)
        return self._loader(dataset, sampler)

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("valid", self.val_limit)

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")
