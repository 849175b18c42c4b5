"""LightningDataModule over one ``data.h5`` per organism.

Batches are dicts with ``x`` float32 one-hot (B, L, 4), ``y`` float32
(B, target_length, T_organism), ``organism`` (str, the same for the whole batch)
and ``index`` int64 (B,) rows in that organism's file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import ConcatDataset, DataLoader

from enformer_lite.errors import InputError
from enformer_lite.training.config import AugmentConfig
from enformer_lite.data.h5 import H5Meta, read_meta, split_indices
from enformer_lite.data.dataset import collate_organism_batch
from enformer_lite.training.dataset import WindowDataset
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


class EnformerDataModule(L.LightningDataModule):
    """Train/valid/test loaders over ``data`` = {organism: path to data.h5}.

    The ``windows.split`` field of each file decides the split. Training batches
    are shuffled, augmented and cycle so that organisms take turns; evaluation
    batches visit each window of the split once, in file order.
    """

    def __init__(
        self,
        data: Mapping[str, str | Path],
        batch_size: int,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        augment: AugmentConfig | None = None,
        seed: int = 0,
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
        self.metas: dict[str, H5Meta] = {}
        self._opened: list[WindowDataset] = []

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

    def split_dataset(self, split: str, augment: AugmentConfig | None = None) -> ConcatDataset:
        """Concatenation (in organism order) of every organism's ``split`` windows."""
        parts = []
        for name, meta in self.prepare_metas().items():
            indices = split_indices(meta.path, split)
            log.info("%s: %d %s windows", meta.path, len(indices), split)
            parts.append(WindowDataset(meta, indices, organism=name, augment=augment))
        self._opened.extend(parts)
        return ConcatDataset(parts)

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

    def _loader(self, dataset: ConcatDataset, sampler: AlternatingBatchSampler) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=collate_organism_batch,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        augment = self.augment if (self.augment.reverse_complement or self.augment.max_shift) else None
        dataset = self.split_dataset("train", augment=augment)
        sizes = [len(d) for d in dataset.datasets]
        for name, n in zip(self.organisms, sizes):
            if n == 0:
                raise InputError(f"{self.paths[name]}: no windows with split 'train'")
        rank, world = self._rank_world()
        sampler = AlternatingBatchSampler(sizes, self.batch_size, shuffle=True, cycle=True, seed=self.seed, rank=rank, world_size=world)
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            sampler.set_epoch(trainer.current_epoch)
        return self._loader(dataset, sampler)

    def eval_dataloader(self, split: str) -> DataLoader:
        """Each ``split`` window once (this rank's share), organisms alternating."""
        dataset = self.split_dataset(split)
        rank, world = self._rank_world()
        sizes = [len(d) for d in dataset.datasets]
        sampler = AlternatingBatchSampler(sizes, self.eval_batch_size, shuffle=False, cycle=False, rank=rank, world_size=world)
        return self._loader(dataset, sampler)

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("valid")

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")
