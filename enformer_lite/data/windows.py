"""Tile a genome into fixed-length windows and assign train/valid/test splits."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyfaidx

from enformer_lite.errors import InputError
from enformer_lite.atomic import atomic_output
from enformer_lite.data.blacklist import BLACKLIST_MODES, Blacklist, read_blacklist
from enformer_lite.data.fasta import chrom_sizes, fetch_codes, open_fasta
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.target_mask import n_counts_per_bin

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class WindowSpec:
    """How a genome is tiled: windows of :attr:`geometry` every ``stride`` bp, at most ``max_n_fraction`` N.

    Checked here with messages naming the ``windows:`` config keys; :attr:`geometry` is the
    shared :class:`~enformer_lite.data.geometry.WindowGeometry` every later stage uses.
    """

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
    def geometry(self) -> WindowGeometry:
        """The window geometry these windows are cut with."""
        return WindowGeometry(self.length, self.bin_size, self.target_length)


@dataclass(frozen=True)
class Window:
    """One row of windows.bed (0-based, half-open)."""

    chrom: str
    start: int
    end: int
    split: str


@dataclass(frozen=True)
class TilingReport:
    """Counts for the log: kept windows per split, windows dropped for N content and for the blacklist."""

    kept: dict[str, int]
    dropped_n: int
    dropped_blacklist: int = 0


PRIMARY_CHROMS = r"(chr)?([0-9]+|[XYZW]|M|MT)"
"""Default ``windows.chroms``: primary assembled chromosomes in UCSC or Ensembl spelling; excludes
``*_alt``, ``*_random``, ``chrUn_*``, ``chrEBV``, decoys, HLA and unplaced scaffolds."""


def assign_splits(
    chroms: Sequence[str],
    valid: Sequence[str],
    test: Sequence[str],
    exclude: Sequence[str] = (),
    pattern: str = PRIMARY_CHROMS,
) -> dict[str, str]:
    """Map each usable chromosome to a split; every named chromosome must exist.

    Chromosomes whose whole name does not match ``pattern`` (a regular expression) take no part
    unless named in ``valid``/``test``; they are counted in the log. Raises InputError naming the
    config key and chromosome when a listed chromosome is not in the FASTA or a chromosome is
    listed in two places.
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
    try:
        matcher = re.compile(pattern)
    except re.error as err:
        raise InputError(f"config windows.chroms: {pattern!r} is not a regular expression: {err}") from err
    named = set(valid) | set(test)
    other = [c for c in chroms if not matcher.fullmatch(c) and c not in named]
    if other:
        log.info("%d FASTA record(s) left out as not primary chromosomes (windows.chroms %r): %s%s", len(other), pattern,
                 ", ".join(other[:10]), ", ..." if len(other) > 10 else "")
    out = {c: "train" for c in chroms if c not in exclude and c not in other}
    out.update({c: "valid" for c in valid})
    out.update({c: "test" for c in test})
    return out


def tile_genome(
    fasta: pyfaidx.Fasta, spec: WindowSpec, splits: Mapping[str, str], drop: Blacklist | None = None
) -> tuple[list[Window], TilingReport]:
    """Windows starting at 0, ``stride`` apart, on each chromosome of ``splits``.

    A window extending past the chromosome end counts the overhang as N; windows
    whose N fraction exceeds ``spec.max_n_fraction`` are dropped and counted, and so
    are windows whose target bins a ``drop`` blacklist touches.
    """
    windows: list[Window] = []
    dropped = dropped_blacklist = 0
    geometry = spec.geometry
    for chrom, size in chrom_sizes(fasta).items():
        if chrom not in splits:
            continue
        padded = -(-size // spec.bin_size) * spec.bin_size + spec.length  # one window of N overhang
        cumulative = np.concatenate([[0], np.cumsum(n_counts_per_bin(fetch_codes(fasta, chrom, 0, padded), spec.bin_size))])
        listed = drop.bins(chrom, 0, padded // spec.bin_size, spec.bin_size) if drop is not None else None
        for start in range(0, size, spec.stride):
            first = start // spec.bin_size
            n_count = cumulative[first + geometry.n_bins] - cumulative[first]
            if n_count > spec.max_n_fraction * spec.length:
                dropped += 1
                continue
            if listed is not None and listed[first + geometry.crop : first + geometry.crop + geometry.target_length].any():
                dropped_blacklist += 1
                continue
            windows.append(Window(chrom, start, start + spec.length, splits[chrom]))
    kept = {s: sum(w.split == s for w in windows) for s in SPLITS}
    return windows, TilingReport(kept=kept, dropped_n=dropped, dropped_blacklist=dropped_blacklist)


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


def write_windows(
    fasta_path: str,
    spec: WindowSpec,
    valid: Sequence[str],
    test: Sequence[str],
    exclude: Sequence[str],
    out: str,
    pattern: str = PRIMARY_CHROMS,
    blacklist: str | None = None,
    blacklist_mode: str = "mask",
) -> TilingReport:
    """Tile the FASTA's chromosomes matching ``pattern`` into ``out`` (windows.bed, written atomically); logs the counts.

    With ``blacklist_mode="drop"`` windows whose target bins the ``blacklist`` BED touches are
    left out; with ``"mask"`` tiling ignores it (extraction masks the bins instead).
    """
    if blacklist_mode not in BLACKLIST_MODES:
        raise InputError(f"blacklist mode {blacklist_mode!r}: expected one of {', '.join(BLACKLIST_MODES)}")
    fasta = open_fasta(fasta_path)
    splits = assign_splits(list(fasta.keys()), valid, test, exclude, pattern)
    drop = read_blacklist(blacklist, fasta.keys()) if blacklist and blacklist_mode == "drop" else None
    windows, report = tile_genome(fasta, spec, splits, drop)
    with atomic_output(out) as tmp, open(tmp, "w") as handle:
        write_bed(windows, handle)
    log.info(
        "%s: %d windows kept (train %d, valid %d, test %d); %d dropped for > %.0f%% N",
        fasta_path, len(windows), report.kept["train"], report.kept["valid"], report.kept["test"],
        report.dropped_n, 100 * spec.max_n_fraction,
    )
    if drop is not None:
        log.info("%s: %d window(s) dropped because %s touches their target bins", fasta_path,
                 report.dropped_blacklist, blacklist)
    for split, count in report.kept.items():
        if count == 0:
            log.warning("split %s has no windows", split)
    return report
