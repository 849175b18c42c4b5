"""The tracks table: which bigWig feeds each target and how its values are transformed.

A tab-separated file with a header, one row per track, in the spirit of basenji's
targets file. Columns (``index`` and ``file`` order defines the target order):

==============  ==================================================================
index           0-based row number
id              short unique identifier
file            bigWig path (relative paths are relative to the working directory)
assay           DNASE, ATAC, CAGE, CHIP, ... (CAGE marks TSS-signal tracks)
strand          ``+``, ``-`` or ``.``
strand_pair     index of the opposite-strand track; its own index when unstranded
sum_stat        ``sum`` or ``mean`` of per-base values in each bin
clip_soft       soft clip threshold c: x > c becomes c + sqrt(x - c) (empty: none)
clip            hard clip after soft clipping (empty: none)
scale           multiplier applied last
description     free text
missing_chrom   optional: ``error`` (default) or ``zero`` when the bigWig lacks a chromosome
==============  ==================================================================

Transform order (as in basenji): NaN → 0, pool per bin, soft clip, clip, scale.

The published targets tables of Basenji/Enformer/Borzoi (``targets_human.txt``: ``index, genome,
identifier, file, clip, scale, sum_stat, description``, Borzoi adding ``clip_soft`` and
``strand_pair``) are read as they are: ``identifier`` is the id, the assay is the description's
prefix before ``:`` (``CAGE:liver`` → CAGE), and the ``genome`` column is ignored.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from enformer_lite.errors import InputError

REQUIRED_COLUMNS = ("index", "id", "file", "sum_stat", "scale")
TARGETS_COLUMNS = ("index", "identifier", "file", "clip", "scale", "sum_stat", "description")
"""Columns of a published (Basenji/Enformer) targets table, read as a tracks table."""
EMPTY = ("", ".", "NA", "None", "none", "nan")
"""Spellings of an empty optional column."""
FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class TrackSpec:
    """One row of the tracks table."""

    index: int
    id: str
    file: str
    assay: str = ""
    strand: str = "."
    strand_pair: int = -1
    sum_stat: str = "sum"
    clip_soft: float | None = None
    clip: float | None = None
    scale: float = 1.0
    description: str = ""
    missing_chrom: str = "error"

    def transform(self, pooled: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Apply soft clip, clip and scale to pooled bin values (any shape)."""
        x = np.asarray(pooled, dtype=np.float32).copy()
        if self.clip_soft is not None:
            over = x > self.clip_soft
            x[over] = self.clip_soft + np.sqrt(x[over] - self.clip_soft)
        if self.clip is not None:
            np.clip(x, -self.clip, self.clip, out=x)
        return x * np.float32(self.scale)

    def untransform(self, values: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Invert :meth:`transform` (exact below any hard clip), same shape."""
        x = np.asarray(values, dtype=np.float32) / np.float32(self.scale)
        if self.clip_soft is not None:
            over = x > self.clip_soft
            x[over] = self.clip_soft + (x[over] - self.clip_soft) ** 2
        return x


def _text(value: str | None) -> str:
    """An optional text column: stripped, with the empty spellings of :data:`EMPTY` as ""."""
    text = (value or "").strip()
    return "" if text in EMPTY else text


def _optional_float(text: str | None, where: str) -> float | None:
    if text is None or text.strip() in EMPTY:
        return None
    try:
        return float(text)
    except ValueError as err:
        raise InputError(f"{where}: not a number: {text!r}") from err


def _from_targets_row(row: Mapping[str, str | None]) -> dict[str, str | None]:
    """A published targets-table row in tracks-table columns (see the module docstring)."""
    description = _text(row.get("description"))
    assay = description.split(":", 1)[0] if ":" in description else ""
    return {**row, "id": row.get("identifier"), "assay": row.get("assay") or assay}


def read_tracks_table(path: str | os.PathLike[str]) -> list[TrackSpec]:
    """Read and validate a tracks table; raises InputError naming file and row."""
    table = Path(path)
    if not table.is_file():
        raise InputError(f"{table}: tracks table not found")
    with open(table, newline="") as handle:
        header = handle.readline()
        handle.seek(0)
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows:
        raise InputError(f"{table}: tracks table has no rows")
    if "\t" not in header and len(header.split()) > 1:
        raise InputError(f"{table} line 1: columns must be separated by tabs, not spaces")
    if "id" not in rows[0] and "identifier" in rows[0]:
        rows = [_from_targets_row(row) for row in rows]
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise InputError(f"{table}: tracks table lacks required column(s) {', '.join(missing)} "
                         f"(required: {', '.join(REQUIRED_COLUMNS)}; see config/README.md)")
    specs: list[TrackSpec] = []
    for line, row in enumerate(rows, start=2):
        where = f"{table} line {line} (track {row.get('id')!r})"
        try:
            index = int(row["index"])
            pair = int(row["strand_pair"]) if (row.get("strand_pair") or "").strip() not in EMPTY else index
        except (TypeError, ValueError) as err:
            raise InputError(f"{where}: index and strand_pair must be integers") from err
        if index != len(specs):
            raise InputError(f"{where}: index {index} out of order, expected {len(specs)}")
        spec = TrackSpec(
            index=index,
            id=(row["id"] or "").strip(),
            file=(row["file"] or "").strip(),
            assay=_text(row.get("assay")).upper(),
            strand=_text(row.get("strand")) or ".",
            strand_pair=pair,
            sum_stat=(row["sum_stat"] or "").strip(),
            clip_soft=_optional_float(row.get("clip_soft"), where),
            clip=_optional_float(row.get("clip"), where),
            scale=_optional_float(row["scale"], where) or 0.0,
            description=_text(row.get("description")),
            missing_chrom=_text(row.get("missing_chrom")) or "error",
        )
        if not spec.id:
            raise InputError(f"{where}: empty id")
        if not spec.file:
            raise InputError(f"{where}: empty file (the track's bigWig path)")
        if spec.sum_stat not in ("sum", "mean"):
            raise InputError(f"{where}: sum_stat must be 'sum' or 'mean', got {spec.sum_stat!r}"
                             + (" (Borzoi's sum_sqrt is not supported)" if spec.sum_stat == "sum_sqrt" else ""))
        if spec.missing_chrom not in ("error", "zero"):
            raise InputError(f"{where}: missing_chrom must be 'error' or 'zero'")
        if not (spec.scale > 0 and math.isfinite(spec.scale)):
            raise InputError(f"{where}: scale must be a positive number")
        if spec.clip_soft is not None and spec.clip_soft < 0:
            raise InputError(f"{where}: clip_soft must be ≥ 0")
        specs.append(spec)
    ids = [s.id for s in specs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"{table}: duplicate track id(s) {', '.join(dup)}")
    for spec in specs:
        if not 0 <= spec.strand_pair < len(specs):
            raise InputError(f"{table}: track {spec.id!r} has strand_pair {spec.strand_pair} outside 0..{len(specs) - 1}")
        if specs[spec.strand_pair].strand_pair != spec.index:
            raise InputError(f"{table}: strand pairs of {spec.id!r} and {specs[spec.strand_pair].id!r} do not point at each other")
    return specs


def select_tracks(tracks: Sequence[TrackSpec], patterns: Sequence[str]) -> list[TrackSpec]:
    """Tracks chosen by identifier, assay or description, in table order (all when ``patterns`` is empty).

    Each pattern is an exact track id (``CNhs11760``), an assay with a regular expression searched in
    the description (``CAGE:.*liver``: CAGE tracks whose description mentions liver; ``DNASE:`` all
    DNase tracks), or else a regular expression searched in id and description. A pattern that
    selects nothing is an InputError naming it.
    """
    if not patterns:
        return list(tracks)
    chosen: set[int] = set()
    for pattern in patterns:
        hits = [t.index for t in tracks if t.id == pattern]
        if not hits:
            assay, sep, rest = pattern.partition(":")
            try:
                if sep and assay.isalpha() and any(t.assay == assay.upper() for t in tracks):
                    expr = re.compile(rest, re.IGNORECASE)
                    hits = [t.index for t in tracks if t.assay == assay.upper() and expr.search(t.description)]
                else:
                    expr = re.compile(pattern, re.IGNORECASE)
                    hits = [t.index for t in tracks if expr.search(t.id) or expr.search(t.description)]
            except re.error as err:
                raise InputError(f"track selection {pattern!r}: not a regular expression ({err})") from err
        if not hits:
            raise InputError(f"track selection {pattern!r} matches no track (by id, ASSAY:description or description)")
        chosen.update(hits)
    return [t for t in tracks if t.index in chosen]


def specificity_groups(tracks: Sequence[TrackSpec]) -> list[list[int]]:
    """Positions (in ``tracks`` order) of each group of two or more tracks that share assay (any case)
    and strand: the tracks whose differences are cell-type specificity (DNase of three cell types, say)."""
    members: dict[tuple[str, str], list[int]] = {}
    for j, track in enumerate(tracks):
        members.setdefault((track.assay.upper(), track.strand), []).append(j)
    return [group for group in members.values() if len(group) > 1]


def tracks_to_json(specs: list[TrackSpec]) -> str:
    """Serialise the table for the HDF5 ``tracks`` attribute."""
    return json.dumps([asdict(s) for s in specs])


def tracks_from_records(rows: Sequence[Mapping[str, Any]] | str) -> list[TrackSpec]:
    """Track specs from stored records: dicts (checkpoint metadata) or the JSON text of :func:`tracks_to_json`.

    Keys that :class:`TrackSpec` does not know (written by a newer version) are ignored.
    """
    records = json.loads(rows) if isinstance(rows, str) else rows
    known = TrackSpec.__dataclass_fields__
    return [TrackSpec(**{k: v for k, v in row.items() if k in known}) for row in records]


def tracks_from_json(text: str) -> list[TrackSpec]:
    """Inverse of :func:`tracks_to_json`."""
    return tracks_from_records(text)
