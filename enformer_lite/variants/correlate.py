"""Pearson and Spearman correlations of more (x, y) pairs than memory holds, and disk partitions of tables.

:class:`PairStore` appends pairs per group to float64 files on disk. A (pooled) set of groups
of at most ``memory_rows`` pairs is correlated in memory with scipy; a larger one is streamed:
Pearson in two passes (means, then co-moments), Spearman as the Pearson correlation of average
ranks (ties share their mean rank, as in scipy), the ranks found by an external bucket sort
(:func:`external_ranks`). Either way fewer than 3 pairs, a constant side, or a NaN give NaN.
Memory stays in the order of ``memory_rows`` pairs whatever the number of pairs (a bucket of
one heavily repeated value is the exception: it is ranked in one piece).

:class:`Partitions` spreads table rows over files by a hash of key columns, so that rows of
equal keys meet in one partition that fits in memory (a hash join on disk).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

MEMORY_ROWS = 1 << 18
"""Pairs (or table rows) handled in memory at once."""
_POS_RANK = np.dtype([("pos", np.int64), ("value", np.float64)])
Blocks = Callable[[], Iterable[npt.NDArray[np.float64]]]
"""A callable returning the same data in blocks each time it is called."""


class PairStore:
    """(x, y) float64 pairs appended per group to files under ``root``."""

    def __init__(self, root: Path, memory_rows: int = MEMORY_ROWS) -> None:
        self.root = root
        self.memory_rows = memory_rows
        self.files: dict[Hashable, Path] = {}
        self.counts: dict[Hashable, int] = {}

    def add(self, group: Hashable, x: npt.ArrayLike, y: npt.ArrayLike) -> None:
        """Append pairs (n,) × (n,) to ``group``."""
        pairs = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
        if not len(pairs):
            return
        path = self.files.setdefault(group, self.root / f"pairs{len(self.files)}.f8")
        with open(path, "ab") as handle:
            pairs.tofile(handle)
        self.counts[group] = self.counts.get(group, 0) + len(pairs)

    def count(self, groups: Sequence[Hashable]) -> int:
        return sum(self.counts.get(g, 0) for g in groups)

    def blocks(self, groups: Sequence[Hashable]) -> Iterator[npt.NDArray[np.float64]]:
        """Pairs of ``groups`` in blocks (B, 2), group by group in file order."""
        for group in groups:
            if group not in self.files:
                continue
            with open(self.files[group], "rb") as handle:
                while len(block := np.fromfile(handle, np.float64, count=2 * self.memory_rows)):
                    yield block.reshape(-1, 2)

    def correlations(self, groups: Sequence[Hashable]) -> tuple[float, float]:
        """(Pearson, Spearman) of the pairs of ``groups`` pooled (see the module docstring)."""
        n = self.count(groups)
        if n < 3:
            return float("nan"), float("nan")
        if n <= self.memory_rows:
            pairs = np.concatenate(list(self.blocks(groups)))
            return in_memory(pairs[:, 0], pairs[:, 1])
        lo, hi, total, finite = np.full(2, np.inf), np.full(2, -np.inf), np.zeros(2), True
        for block in self.blocks(groups):
            finite = finite and bool(np.isfinite(block).all())
            lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
            total += block.sum(axis=0)
        if not finite or (lo == hi).any():
            return float("nan"), float("nan")
        pearson = _pearson(lambda: self.blocks(groups), total / n)
        ranks = [external_ranks(lambda c=c: (b[:, c] for b in self.blocks(groups)), n, self.root / f"rank{c}", self.memory_rows)
                 for c in (0, 1)]
        mean = np.full(2, (n + 1) / 2)  # the mean of average ranks 1..n
        spearman = _pearson(lambda: _zip_files(ranks, self.memory_rows), mean)
        for path in ranks:
            path.unlink()
        return pearson, spearman


def in_memory(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(Pearson, Spearman) with scipy; NaN for fewer than 3 pairs or a side with fewer than two distinct values."""
    if len(x) < 3 or pd.Series(x).nunique() < 2 or pd.Series(y).nunique() < 2:
        return float("nan"), float("nan")
    return float(stats.pearsonr(x, y).statistic), float(stats.spearmanr(x, y).statistic)


def _pearson(blocks: Blocks, mean: npt.NDArray[np.float64]) -> float:
    """Pearson correlation from a callable returning blocks (B, 2) and the two means: one pass of co-moments."""
    sxx = syy = sxy = 0.0
    for block in blocks():
        d = block - mean
        sxx, syy, sxy = sxx + float(d[:, 0] @ d[:, 0]), syy + float(d[:, 1] @ d[:, 1]), sxy + float(d[:, 0] @ d[:, 1])
    return float(np.clip(sxy / math.sqrt(sxx * syy), -1.0, 1.0))


def _zip_files(paths: Sequence[Path], block: int) -> Iterator[npt.NDArray[np.float64]]:
    """Blocks (B, 2) of two float64 files read side by side."""
    with open(paths[0], "rb") as a, open(paths[1], "rb") as b:
        while len(x := np.fromfile(a, np.float64, count=block)):
            yield np.column_stack([x, np.fromfile(b, np.float64, count=len(x))])


def external_ranks(values: Blocks, n: int, out: Path, memory_rows: int = MEMORY_ROWS) -> Path:
    """Average ranks (1-based, ties share their mean) of ``n`` values, written to ``out`` (float64, input order).

    ``values`` is a callable returning the values in blocks (it is called twice). Values are
    spread over buckets of value ranges (bounds from a sample, about ``memory_rows / 2`` values
    each), each bucket is ranked in memory, and the ranks are spread over position ranges of
    ``memory_rows`` and written in input order.
    """
    out.mkdir(parents=True, exist_ok=True)
    sample = np.concatenate([b[:: max(1, n // 100_000)] for b in values()])
    n_buckets = max(1, math.ceil(2 * n / memory_rows))
    bounds = np.unique(np.quantile(sample, np.linspace(0, 1, n_buckets + 1)[1:-1]))
    buckets = [out / f"bucket{i}" for i in range(len(bounds) + 1)]
    start = 0
    for block in values():
        _spread(block, np.arange(start, start + len(block)), np.searchsorted(bounds, block, side="right"), buckets)
        start += len(block)
    n_parts = math.ceil(n / memory_rows)
    parts = [out / f"part{i}" for i in range(n_parts)]
    below = 0
    for bucket in buckets:
        if not bucket.exists():
            continue
        entries = np.fromfile(bucket, _POS_RANK)
        bucket.unlink()
        ranks = stats.rankdata(entries["value"], method="average") + below
        below += len(entries)
        _spread(ranks, entries["pos"], entries["pos"] // memory_rows, parts)
    ranked = out.with_suffix(".f8")
    with open(ranked, "wb") as handle:
        for i, part in enumerate(parts):
            entries = np.fromfile(part, _POS_RANK) if part.exists() else np.zeros(0, _POS_RANK)
            column = np.empty(min(memory_rows, n - i * memory_rows))
            column[entries["pos"] - i * memory_rows] = entries["value"]
            column.tofile(handle)
            part.unlink(missing_ok=True)
    out.rmdir()
    return ranked


def _spread(values: npt.NDArray[np.float64], pos: npt.NDArray[np.int64], target: npt.NDArray[np.intp], files: Sequence[Path]) -> None:
    """Append (pos, value) records to ``files[target]``, one write per file."""
    order = np.argsort(target, kind="stable")
    records = np.empty(len(order), _POS_RANK)
    records["pos"], records["value"] = pos[order], values[order]
    cuts = np.searchsorted(target[order], np.arange(len(files) + 1))
    for i in np.flatnonzero(np.diff(cuts)):
        with open(files[i], "ab") as handle:
            records[cuts[i] : cuts[i + 1]].tofile(handle)


class Partitions:
    """Table pieces spread over ``n`` pickle files under ``root`` by a hash of ``keys``, per ``kind``."""

    def __init__(self, root: Path, n: int, keys: Sequence[str]) -> None:
        self.root, self.n, self.keys = root, n, list(keys)

    def add(self, kind: str, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        if self.n == 1:
            target = np.zeros(len(frame), np.intp)
        else:
            keys = pd.DataFrame({k: frame[k].astype(np.int64 if k == "pos" else str).to_numpy() for k in self.keys})
            target = (pd.util.hash_pandas_object(keys, index=False).to_numpy() % self.n).astype(np.intp)
        for i in np.unique(target):
            with open(self.root / f"{kind}{i}.pkl", "ab") as handle:
                pickle.dump(frame[target == i], handle, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, kind: str, i: int, columns: Sequence[str]) -> pd.DataFrame:
        """Partition ``i`` of ``kind`` (an empty frame with ``columns`` when it got no rows)."""
        path, pieces = self.root / f"{kind}{i}.pkl", []
        if path.exists():
            with open(path, "rb") as handle:
                while True:
                    try:
                        pieces.append(pickle.load(handle))  # our own temporary files, written just before
                    except EOFError:
                        break
            path.unlink()
        return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=list(columns))
