"""Batches that each hold one organism, taking turns between organisms.

The datasets of all organisms are concatenated (``torch.utils.data.ConcatDataset``);
this batch sampler yields lists of indices into that concatenation. Every batch
comes from a single organism, so the model can use that organism's head, and
organisms alternate: batch 0 from the first, batch 1 from the second, and so on.

Distributed training: each process (rank) draws a disjoint share of every
organism's shuffled windows and yields the same number of batches, so that
gradient synchronisation never waits for a rank that has run out of data.

Resuming: everything random about training data is a function of ``(seed, epoch,
position)``: the permutation of each epoch and, with ``augment``, each example's
shift and strand, which the sampler draws and hands to the dataset as
``(index, shift, reverse)`` keys. No random state lives in DataLoader workers, so
:meth:`AlternatingBatchSampler.skip_to` (the number of batches already trained)
is all a resumed run needs to see exactly the batches an uninterrupted run would,
whatever ``num_workers``. (There is no ``set_epoch``: the epoch follows from the
batch number, and Lightning's epoch counter must not override it.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from enformer_lite.training.config import AugmentConfig

#: One example of a batch: an index into the concatenation, or (index, shift bp, reverse complement),
#: or (index, shift bp, reverse complement, sub-window offset).
Key = int | tuple[int, int, bool] | tuple[int, int, bool, int] | tuple[int, int, bool, int, float, float]

_AUGMENT_STREAM = 1  # keeps augmentation draws independent of the permutation stream
_SUB_WINDOW_STREAM = 2
_PEAK_STREAM = 3  # separate, so that peak_fraction 0 leaves the offsets of earlier runs unchanged


class AlternatingBatchSampler(Sampler[list[Key]]):
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
        seed: base seed; data epoch ``e`` uses ``seed + e``.
        rank, world_size: this process's share in distributed runs.
        augment: draw a shift and strand per example; batches then hold
            ``(index, shift, reverse)`` keys instead of plain indices. The draws are made
            for the whole epoch before it is shared out, so they do not depend on
            ``world_size``.
        length: batches per iteration (default: one epoch). Training sets it to the
            whole run (``max_steps``) so that the loader's single pass runs across data
            epochs: Lightning then never meets an epoch end mid-run, where its resume
            logic would skip the pending epoch end and validation.
        sub_windows: ``(batches, offsets)``: the first ``batches`` batches (counted over all
            epochs) hold ``(index, shift, reverse, offset)`` keys, each with a sub-window
            ``offset`` drawn uniformly from ``0 … offsets - 1`` as a function of
            ``(seed, batch number, rank)`` (``train.sub_windows``).
        peak_fraction: share of those sub-window keys that also carry two uniform draws
            ``(track_draw, bin_draw)``, with which the dataset centres the sub-window on signal
            (``train.sub_windows.peak_fraction``).
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
        augment: AugmentConfig | None = None,
        length: int | None = None,
        sub_windows: tuple[int, int] = (0, 0),
        peak_fraction: float = 0.0,
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
        self.augment = augment if augment is not None and (augment.max_shift or augment.reverse_complement) else None
        if length is not None and length < 1:
            raise ValueError(f"length must be ≥ 1, got {length}")
        self.length = length if length is not None else self._batches_per_epoch()
        self.sub_batches, self.sub_offsets = (int(n) for n in sub_windows)
        if self.sub_batches and self.sub_offsets < 1:
            raise ValueError(f"sub-windows need at least one offset, got {sub_windows}")
        if not 0.0 <= peak_fraction <= 1.0:
            raise ValueError(f"peak_fraction must lie in [0, 1], got {peak_fraction}")
        self.peak_fraction = float(peak_fraction)
        self._next = 0  # number (over all epochs) of the batch the next iteration starts with

    def skip_to(self, batches_done: int) -> None:
        """Make the next iteration continue after ``batches_done`` batches (counted over all epochs).

        Batch ``b`` is batch ``b % per_epoch`` of epoch ``b // per_epoch``, whatever the
        ``length`` of an iteration, so a resumed run continues the same sequence.
        """
        if batches_done < 0:
            raise ValueError(f"batches_done must be ≥ 0, got {batches_done}")
        self._next = int(batches_done)

    def _batches_per_organism_cycled(self) -> int:
        return math.ceil(max(self.sizes) / (self.batch_size * self.world_size))

    def _batches_per_epoch(self) -> int:
        if self.cycle:
            return self._batches_per_organism_cycled() * len(self.sizes)
        share = [len(range(self.rank, n, self.world_size)) for n in self.sizes]
        return sum(math.ceil(s / self.batch_size) for s in share)

    def _organism_batches(self, organism: int, rng: np.random.Generator, views: np.random.Generator) -> list[list[Key]]:
        n = self.sizes[organism]
        if self.cycle:
            needed = self._batches_per_organism_cycled() * self.batch_size * self.world_size
            draws = [rng.permutation(n) if self.shuffle else np.arange(n) for _ in range(math.ceil(needed / n))]
            order = np.concatenate(draws)[:needed]
        else:
            order = rng.permutation(n) if self.shuffle else np.arange(n)
        keys: list[Key] = (order + self.offsets[organism]).tolist()
        if self.augment is not None:
            m = self.augment.max_shift
            shifts = views.integers(-m, m + 1, size=len(order)).tolist()
            reverse = (views.random(len(order)) < 0.5) & self.augment.reverse_complement
            keys = [(i, s, bool(r)) for i, s, r in zip(keys, shifts, reverse)]
        mine = keys[self.rank :: self.world_size]
        return [mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size)]

    def epoch_batches(self, epoch: int) -> list[list[Key]]:
        """All batches of data epoch ``epoch`` (this rank's share), organisms alternating."""
        rng = np.random.default_rng(self.seed + epoch)
        views = np.random.default_rng((self.seed, epoch, _AUGMENT_STREAM))
        per_organism = [self._organism_batches(o, rng, views) for o in range(len(self.sizes))]
        longest = max((len(b) for b in per_organism), default=0)
        return [batches[step] for step in range(longest) for batches in per_organism if step < len(batches)]

    def __iter__(self) -> Iterator[list[Key]]:
        if not self.length:
            return
        first = self._next
        end = (first // self.length + 1) * self.length  # an iteration yields batches up to the next multiple of length
        self._next = end
        per_epoch = self._batches_per_epoch()
        epoch, batches = -1, []
        for number in range(first, end):
            if number // per_epoch != epoch:
                epoch = number // per_epoch
                batches = self.epoch_batches(epoch)
            yield self._cut(batches[number % per_epoch], number)

    def _cut(self, batch: list[Key], number: int) -> list[Key]:
        """Batch ``number`` with a sub-window offset added to every key while ``number < sub_batches``."""
        if number >= self.sub_batches:
            return batch
        draws = np.random.default_rng((self.seed, number, self.rank, _SUB_WINDOW_STREAM))
        offsets = draws.integers(0, self.sub_offsets, size=len(batch)).tolist()
        keys: list[Key] = [(*(k if isinstance(k, tuple) else (k, 0, False)), o) for k, o in zip(batch, offsets)]
        if not self.peak_fraction:
            return keys
        peaks = np.random.default_rng((self.seed, number, self.rank, _PEAK_STREAM)).random((len(batch), 3))
        return [(*key, float(track), float(where)) if chosen < self.peak_fraction else key
                for key, (chosen, track, where) in zip(keys, peaks)]

    def __len__(self) -> int:
        return self.length
