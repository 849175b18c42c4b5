"""Batches that each hold one organism, taking turns between organisms.

The datasets of all organisms are concatenated (``torch.utils.data.ConcatDataset``);
this batch sampler yields lists of indices into that concatenation. Every batch
comes from a single organism, so the model can use that organism's head, and
organisms alternate: batch 0 from the first, batch 1 from the second, and so on.

Distributed training: each process (rank) draws a disjoint share of every
organism's shuffled windows and yields the same number of batches, so that
gradient synchronisation never waits for a rank that has run out of data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class AlternatingBatchSampler(Sampler[list[int]]):
    """Organism-pure batches in round-robin order over organisms.

    Args:
        sizes: number of examples of each organism, in concatenation order.
        batch_size: examples per batch.
        shuffle: draw a fresh permutation per epoch (training); otherwise keep file order.
        cycle: training mode. Every organism yields as many full batches as the largest
            one needs for one pass, re-drawing permutations of the smaller ones
            ("max size cycle"), so organisms get equal numbers of steps. Without
            ``cycle`` every example is visited exactly once per epoch (evaluation) and
            the last batch of an organism may be short.
        seed: base seed; epoch ``e`` uses ``seed + e``.
        rank, world_size: this process's share in distributed runs.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_size: int,
        shuffle: bool,
        cycle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        if cycle and any(n == 0 for n in sizes):
            raise ValueError(f"every organism needs at least one example to cycle, got sizes {list(sizes)}")
        self.sizes = [int(n) for n in sizes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.cycle = cycle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation drawn by the next iteration."""
        self.epoch = epoch

    def _batches_per_organism_cycled(self) -> int:
        return math.ceil(max(self.sizes) / (self.batch_size * self.world_size))

    def _organism_batches(self, organism: int, rng: np.random.Generator) -> list[list[int]]:
        n = self.sizes[organism]
        if self.cycle:
            needed = self._batches_per_organism_cycled() * self.batch_size * self.world_size
            draws = [rng.permutation(n) if self.shuffle else np.arange(n) for _ in range(math.ceil(needed / n))]
            order = np.concatenate(draws)[:needed]
        else:
            order = rng.permutation(n) if self.shuffle else np.arange(n)
        mine = order[self.rank :: self.world_size] + self.offsets[organism]
        return [mine[i : i + self.batch_size].tolist() for i in range(0, len(mine), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch)
        per_organism = [self._organism_batches(o, rng) for o in range(len(self.sizes))]
        self.epoch += 1
        longest = max((len(b) for b in per_organism), default=0)
        for step in range(longest):
            for batches in per_organism:
                if step < len(batches):
                    yield batches[step]

    def __len__(self) -> int:
        if self.cycle:
            return self._batches_per_organism_cycled() * len(self.sizes)
        share = [len(range(self.rank, n, self.world_size)) for n in self.sizes]
        return sum(math.ceil(s / self.batch_size) for s in share)
