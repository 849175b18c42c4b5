"""Leakage guard: valid/test windows that overlap the pretrained model's training regions.

A pretrained model has seen the targets of its own training regions (``model.pretrained_regions``,
a BED such as Enformer's ``sequences_human.bed`` filtered to its train split). A fine-tuning
validation or test window there scores how well the model remembers, not how well it generalises
(gReLU #59), so such windows are listed in ``pretrained_overlap.tsv`` next to the checkpoints and,
unless ``train.exclude_pretrained_overlap: false``, left out of validation (model selection) and of
the test evaluation (the checkpoint names them; :func:`enformer_lite.inference.evaluate.evaluate`
drops them). Chromosome names are matched as everywhere else (chr1 ↔ 1).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from enformer_lite.data.blacklist import read_blacklist
from enformer_lite.data.h5 import read_windows

log = logging.getLogger(__name__)

COLUMNS = ["genome", "row", "chrom", "start", "end", "split", "overlap_bp"]
GUARDED_SPLITS = ("valid", "test")


def overlapping_windows(data: str | os.PathLike[str], regions: str | os.PathLike[str], genome: str) -> pd.DataFrame:
    """Valid/test windows of ``data`` overlapping any region of the BED ``regions``: a table of :data:`COLUMNS`
    (``row`` the window's row in ``data``, ``overlap_bp`` the bases of the window the regions cover)."""
    windows = read_windows(data)
    intervals = read_blacklist(regions, dict.fromkeys(windows["chrom"].tolist())).intervals
    records = []
    for row in np.flatnonzero(np.isin(windows["split"], GUARDED_SPLITS)):
        chrom, start, end = windows["chrom"][row], int(windows["start"][row]), int(windows["end"][row])
        spans = intervals.get(chrom)
        if spans is None or not len(spans):
            continue
        covered = np.zeros(end - start, dtype=bool)
        for s, e in spans[(spans[:, 1] > start) & (spans[:, 0] < end)]:
            covered[max(s, start) - start : min(e, end) - start] = True
        if covered.any():
            records.append((genome, int(row), chrom, start, end, windows["split"][row], int(covered.sum())))
    table = pd.DataFrame.from_records(records, columns=COLUMNS)
    for split in GUARDED_SPLITS:
        total = int((windows["split"] == split).sum())
        log.info("%s: %d of %d %s windows overlap the pretrained model's regions (%s)", data,
                 int((table["split"] == split).sum()), total, split, regions)
    return table
