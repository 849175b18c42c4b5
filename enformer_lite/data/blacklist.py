"""Blacklist BED (ENCODE style: regions of artefactual signal) and the target bins it covers.

A genome's optional ``blacklist`` either masks the target bins it overlaps (they take no part
in the loss or the evaluation) or drops every window whose target bins it overlaps
(``blacklist_mode: drop``). Chromosome names are matched to the FASTA's as everywhere else
(chr1 ↔ 1, chrM ↔ MT); records on chromosomes the FASTA lacks are a counted skip in the log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from enformer_lite.data.bed import bed_records
from enformer_lite.data.fasta import resolve_chrom

log = logging.getLogger(__name__)

BLACKLIST_MODES = ("mask", "drop")


@dataclass(frozen=True)
class Blacklist:
    """Blacklisted intervals per FASTA chromosome: ``intervals[chrom]`` is (n, 2) int64 [start, end)."""

    path: str
    intervals: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)

    def bins(self, chrom: str, first_bin: int, n_bins: int, bin_size: int) -> npt.NDArray[np.bool_]:
        """True for each of bins ``first_bin .. first_bin + n_bins`` that any interval touches, shape (n_bins,).

        A rasterisation of the intervals onto the bin grid (a running sum of +1 at each interval's
        first bin and -1 after its last one), so its cost is linear in bins plus intervals.
        """
        spans = self.intervals.get(chrom)
        if spans is None or not len(spans):
            return np.zeros(n_bins, dtype=bool)
        first = np.clip(spans[:, 0] // bin_size - first_bin, 0, n_bins)
        last = np.clip(-(-spans[:, 1] // bin_size) - first_bin, 0, n_bins)  # exclusive
        edges = np.zeros(n_bins + 1, dtype=np.int64)
        np.add.at(edges, first, 1)
        np.add.at(edges, last, -1)
        return np.cumsum(edges[:-1]) > 0


def read_blacklist(path: str | os.PathLike[str], chroms: Iterable[str]) -> Blacklist:
    """Read a BED3+ (plain or gzip) of regions to leave out, with names matched to ``chroms`` (the FASTA's).

    Errors (missing file, bad lines) name the file and line; records on chromosomes not in the
    FASTA are skipped and counted in the log.
    """
    available = list(chroms)
    spans: dict[str, list[tuple[int, int]]] = {}
    skipped: dict[str, int] = {}
    for _, fields, start, end in bed_records(path, 3, "blacklist BED"):
        chrom = resolve_chrom(fields[0], available)
        if chrom is None:
            skipped[fields[0]] = skipped.get(fields[0], 0) + 1
            continue
        spans.setdefault(chrom, []).append((start, end))
    if skipped:
        names = sorted(skipped)
        log.warning("%s: %d record(s) on %d chromosome(s) not in the FASTA skipped: %s%s", path,
                    sum(skipped.values()), len(names), ", ".join(names[:10]), ", ..." if len(names) > 10 else "")
    intervals = {c: np.array(sorted(v), dtype=np.int64).reshape(-1, 2) for c, v in spans.items()}
    log.info("%s: %d blacklisted region(s) on %d chromosome(s)", path, sum(len(v) for v in intervals.values()),
             len(intervals))
    return Blacklist(str(path), intervals)
