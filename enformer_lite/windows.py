"""Tile a genome into fixed-length windows and assign train/valid/test splits."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyfaidx

from enformer_lite.errors import InputError
from enformer_lite.genome import chrom_sizes, fetch_codes
from enformer_lite.sequence import N_CODE

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class WindowSpec:
    """Window geometry: ``length`` bp in, ``target_length`` central bins of ``bin_size`` bp out."""

    length: int = 196_608
    stride: int = 65_536
    bin_size: int = 128
    target_length: int = 896
    max_n_fraction: float = 0.35

    def __post_init__(self) -> None:
        if self.length <= 0 or self.bin_size <= 0 or self.stride <= 0 or self.target_length <= 0:
            raise InputError("config windows: length, stride, bin_size and target_length must be positive")
        if self.length % self.bin_size:
            raise InputError(f"config windows.length: {self.length} is not divisible by windows.bin_size {self.bin_size}")
        if self.stride % self.bin_size:
            raise InputError(f"config windows.stride: {self.stride} is not divisible by windows.bin_size {self.bin_size}")
        bins = self.length // self.bin_size
        if self.target_length > bins or (bins - self.target_length) % 2:
            raise InputError(
                f"config windows.target_length: {self.target_length} must be ≤ {bins} bins and leave an even crop"
            )
        if not 0.0 <= self.max_n_fraction <= 1.0:
            raise InputError("config windows.max_n_fraction: must lie in [0, 1]")

    @property
    def n_bins(self) -> int:
        """Bins across the whole window."""
        return self.length // self.bin_size

    @property
    def crop_bins(self) -> int:
        """Bins cropped on each side to reach ``target_length``."""
        return (self.n_bins - self.target_length) // 2


@dataclass(frozen=True)
class Window:
    """One row of windows.bed (0-based, half-open)."""

    chrom: str
    start: int
    end: int
    split: str


@dataclass(frozen=True)
class TilingReport:
    """Counts for the log: kept windows per split and windows dropped for N content."""

    kept: dict[str, int]
    dropped_n: int


def assign_splits(
    chroms: Sequence[str], valid: Sequence[str], test: Sequence[str], exclude: Sequence[str] = ()
) -> dict[str, str]:
    """Map each usable chromosome to a split; every named chromosome must exist.

    Raises InputError naming the config key and chromosome when a listed chromosome
    is not in the FASTA or a chromosome is listed in two places.
    """
    known = set(chroms)
    for key, names in (("valid", valid), ("test", test), ("exclude", exclude)):
        for name in names:
            if name not in known:
                raise InputError(
                    f"config splits.{key}: chromosome {name!r} is not in the FASTA "
                    f"(it has {', '.join(list(chroms)[:8])}{', ...' if len(chroms) > 8 else ''})"
                )
    overlap = (set(valid) & set(test)) | ((set(valid) | set(test)) & set(exclude))
    if overlap:
        raise InputError(f"config splits: chromosome(s) {', '.join(sorted(overlap))} listed in more than one split")
    out = {c: "train" for c in chroms if c not in exclude}
    out.update({c: "valid" for c in valid})
    out.update({c: "test" for c in test})
    return out


def tile_genome(
    fasta: pyfaidx.Fasta, spec: WindowSpec, splits: Mapping[str, str]
) -> tuple[list[Window], TilingReport]:
    """Windows starting at 0, ``stride`` apart, on each chromosome of ``splits``.

    A window extending past the chromosome end counts the overhang as N; windows
    whose N fraction exceeds ``spec.max_n_fraction`` are dropped and counted.
    """
    windows: list[Window] = []
    dropped = 0
    for chrom, size in chrom_sizes(fasta).items():
        if chrom not in splits:
            continue
        n_per_bin = _n_counts_per_bin(fasta, chrom, size, spec)
        cumulative = np.concatenate([[0], np.cumsum(n_per_bin)])
        for start in range(0, size, spec.stride):
            first = start // spec.bin_size
            n_count = cumulative[first + spec.n_bins] - cumulative[first]
            if n_count > spec.max_n_fraction * spec.length:
                dropped += 1
                continue
            windows.append(Window(chrom, start, start + spec.length, splits[chrom]))
    kept = {s: sum(w.split == s for w in windows) for s in SPLITS}
    return windows, TilingReport(kept=kept, dropped_n=dropped)


def _n_counts_per_bin(fasta: pyfaidx.Fasta, chrom: str, size: int, spec: WindowSpec) -> np.ndarray:
    """N count per bin over the chromosome plus one window of N overhang, shape (n,)."""
    padded = -(-size // spec.bin_size) * spec.bin_size + spec.length
    codes = fetch_codes(fasta, chrom, 0, padded)
    return np.count_nonzero(codes.reshape(-1, spec.bin_size) == N_CODE, axis=1)


def write_bed(windows: Sequence[Window], handle: "object") -> None:
    """Write windows as BED4+1: chrom, start, end, split."""
    for w in windows:
        handle.write(f"{w.chrom}\t{w.start}\t{w.end}\t{w.split}\n")  # type: ignore[attr-defined]


def read_bed(path: str) -> Iterator[Window]:
    """Read windows.bed written by :func:`write_bed`; errors name file and line."""
    with open(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end, split = fields[0], int(fields[1]), int(fields[2]), fields[3]
            except (IndexError, ValueError) as err:
                raise InputError(f"{path} line {line_no}: expected chrom, start, end, split") from err
            if split not in SPLITS:
                raise InputError(f"{path} line {line_no}: unknown split {split!r}")
            yield Window(chrom, start, end, split)
