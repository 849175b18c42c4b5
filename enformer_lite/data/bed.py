"""BED input shared by every reader: one parser for the lines, checks and error messages."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from enformer_lite.errors import InputError


def bed_records(path: str | os.PathLike[str], min_columns: int, what: str) -> Iterator[tuple[int, list[str], int, int]]:
    """Yield ``(line number, fields, start, end)`` for each data line of a BED file.

    Plain or gzip/bgzip-compressed (told by the file's first bytes, not its name). Blank, ``#``,
    ``track`` and ``browser`` lines are skipped. Raises InputError naming the file
    (as ``what``, e.g. "genes BED") and line for a missing file, fewer than ``min_columns``
    tab-separated columns, a non-integer coordinate or an empty or negative interval.
    """
    bed = Path(path)
    if not bed.is_file():
        raise InputError(f"{bed}: {what} not found")
    with _open_text(bed) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < min_columns:
                raise InputError(
                    f"{bed} line {line_no}: expected {'at least ' if min_columns < 6 else ''}{min_columns} "
                    f"tab-separated BED columns, got {len(fields)}"
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError as err:
                raise InputError(f"{bed} line {line_no}: start/end must be integers: {fields[1]!r}, {fields[2]!r}") from err
            if start < 0 or end <= start:
                raise InputError(f"{bed} line {line_no}: bad interval {start}-{end}")
            yield line_no, fields, start, end


def _open_text(path: Path) -> IO[str]:
    """``path`` opened as text, decompressing gzip/bgzip."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else open(path)


def require_unique(ids: pd.Series, path: str | os.PathLike[str], what: str) -> None:
    """Raise InputError naming ``path`` and up to five repeated values of ``ids`` ("gene", "element")."""
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise InputError(f"{path}: duplicate {what} id(s) {', '.join(map(str, repeated[:5]))}")
