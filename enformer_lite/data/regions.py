"""Genomic regions as users write them: ``chrom:start-end`` (0-based, half-open as in BED; commas allowed).

One grammar for every stage (predict, plots, variant filters); a whole chromosome is written
``chrom`` where a stage allows it (:func:`parse_region_or_chrom`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enformer_lite.errors import InputError

_REGION = re.compile(r"^(?P<chrom>[^:\s]+)(?::(?P<start>[\d,]+)-(?P<end>[\d,]+))?$")


@dataclass(frozen=True)
class Region:
    """A 0-based half-open interval."""

    chrom: str
    start: int
    end: int

    @classmethod
    def parse(cls, text: str, where: str = "region") -> Region:
        """``chrom:start-end`` → Region; InputError (prefixed with ``where``) otherwise."""
        chrom, start, end = parse_region_or_chrom(text, where)
        if end is None:
            raise InputError(f"{where} {text!r}: expected chrom:start-end")
        return cls(chrom, start, end)

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}"


def parse_region_or_chrom(text: str, where: str = "region") -> tuple[str, int, int | None]:
    """``chrom`` or ``chrom:start-end`` → ``(chrom, start, end)``; a whole chromosome gives ``(chrom, 0, None)``."""
    match = _REGION.match(text.strip())
    if not match:
        raise InputError(f"{where} {text!r}: expected chrom:start-end")
    if match["start"] is None:
        return match["chrom"], 0, None
    start, end = (int(match[k].replace(",", "")) for k in ("start", "end"))
    if end <= start:
        raise InputError(f"{where} {text!r}: end must be greater than start")
    return match["chrom"], start, end
