"""Candidate regulatory elements (BED): the elements whose contribution to each gene is scored.

Format: BED with at least 3 tab-separated columns, 0-based half-open (chrom, start, end); a 4th
column, when present and not empty or ``.``, is the element id (unique). Other columns are ignored.
Elements without an id are named ``chrom:start-end``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from enformer_lite.data.bed import bed_records, require_unique

ELEMENT_COLUMNS = ["chrom", "start", "end", "element"]


def read_candidates_bed(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Candidate elements from a BED file (3 or more columns; the 4th, if any, is the element id).

    Returns columns :data:`ELEMENT_COLUMNS`; elements without a name get ``chrom:start-end``.
    Raises InputError naming the file and line for a short row, a non-integer or empty
    interval, or a duplicate id.
    """
    bed = Path(path)
    rows = []
    for _, fields, start, end in bed_records(bed, 3, "candidates BED"):
        name = fields[3].strip() if len(fields) > 3 and fields[3].strip() not in ("", ".") else f"{fields[0]}:{start}-{end}"
        rows.append((fields[0], start, end, name))
    elements = pd.DataFrame(rows, columns=ELEMENT_COLUMNS)
    require_unique(elements["element"], bed, "element")
    return elements
