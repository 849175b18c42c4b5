"""VCF records → scoreable alleles, one per ALT, checked against the reference FASTA.

The VCF (plain or bgzipped) is read with cyvcf2. Each record is split into one allele per
ALT; chromosome names are mapped to the FASTA (explicit map first, then ``chr1``/``1`` and
``chrM``/``MT`` aliases); REF is compared with the FASTA under the ``ref_mismatch`` policy.
Alleles that cannot be scored become :class:`Skip` rows with one of the reasons in
:data:`SKIP_REASONS`; a record cyvcf2 cannot parse stops with an :class:`InputError` naming
the file, line and record.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cyvcf2
import pyfaidx

from enformer_lite.errors import InputError
from enformer_lite.data.fasta import chrom_aliases, resolve_chrom
from enformer_lite.variants.config import ScoreConfig, parse_region

log = logging.getLogger(__name__)

SKIP_REASONS = {
    "unknown_chrom": "chromosome not in the FASTA (after aliases and chrom_map)",
    "outside_chrom": "REF extends past the end of the chromosome",
    "no_alt": "record has no ALT allele ('.')",
    "symbolic_alt": "symbolic or breakend ALT (<DEL>, <INS>, N[chr:pos[, ...)",
    "star_alt": "'*' ALT (allele missing due to an overlapping deletion)",
    "bad_allele": "REF or ALT contains characters other than A, C, G, T, N",
    "alt_equals_ref": "ALT is identical to REF",
    "ref_mismatch": "REF differs from the FASTA (policy skip, or flip not possible)",
    "indel": "insertion or deletion while indel scoring is switched off",
    "long_allele": "REF or ALT longer than max_indel_length",
}
_ACGTN = re.compile(r"^[ACGTN]+$")


@dataclass(frozen=True)
class Allele:
    """One ALT of one VCF record, as it will be scored.

    ``ref``/``alt`` are upper case and oriented reference → non-reference: after a flip
    (``flipped``) they are the VCF's ALT and REF. ``pos`` is the 1-based VCF POS.
    """

    record: int
    alt_index: int
    chrom: str
    vcf_chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    flipped: bool = False

    @property
    def start(self) -> int:
        """0-based position of the first REF base."""
        return self.pos - 1

    @property
    def is_indel(self) -> bool:
        return len(self.ref) != len(self.alt)


@dataclass(frozen=True)
class Skip:
    """An allele that is not scored, with its reason (a key of :data:`SKIP_REASONS`)."""

    record: int
    alt_index: int
    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    reason: str
    detail: str = ""


def open_vcf(path: str | os.PathLike[str]) -> cyvcf2.VCF:
    """Open a plain or bgzipped VCF with cyvcf2; InputError names the file when it cannot."""
    vcf = Path(path)
    if not vcf.is_file():
        raise InputError(f"{vcf}: VCF file not found")
    try:
        return cyvcf2.VCF(str(vcf), lazy=True, threads=1)
    except Exception as err:  # cyvcf2 raises OSError or a bare Exception, depending on the fault
        raise InputError(f"{vcf}: not a readable VCF: {_header_problem(vcf) or err}") from err


def _header_problem(vcf: Path) -> str:
    """Why a VCF's header cannot be read, in words, where that can be told ("" otherwise)."""
    with open(vcf, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    header: list[str] = []
    try:
        with (gzip.open if compressed else open)(vcf, "rt", errors="replace") as handle:
            for line in handle:  # the header only: reading stops at the first record
                if not line.startswith("#"):
                    break
                header.append(line)
    except (OSError, EOFError):
        return "the gzip/bgzip file is truncated or corrupt"
    if not header or not header[0].startswith("##fileformat=VCF"):
        return "the first line is not ##fileformat=VCFv4.x"
    if not any(line.startswith("#CHROM") for line in header):
        return "the header has no #CHROM line (the column names)"
    return ""


def _record_line(path: Path, record: int) -> tuple[int, str]:
    """Line number (1-based) and text of data record ``record`` (0-based), for error messages."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    seen = -1
    with opener(path, "rt", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith("#"):
                continue
            seen += 1
            if seen == record:
                return number, line.rstrip("\n")
    return 0, ""


def iter_records(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None, reader: cyvcf2.VCF | None = None
) -> Iterator[tuple[int, cyvcf2.Variant]]:
    """(record index, cyvcf2 record) for records ``start <= index < stop`` in file order.

    ``reader`` is an already opened :func:`open_vcf` of ``path`` (for example one whose header
    was extended); it is closed at the end either way. Raises InputError naming file, line
    and record for a record htslib cannot parse.
    """
    vcf = Path(path)
    reader = reader if reader is not None else open_vcf(vcf)
    index = 0
    last: tuple[str, int] = ("", 0)
    finished: set[str] = set()
    try:
        while stop is None or index < stop:
            try:
                variant = next(reader)
            except StopIteration:
                return
            except Exception as err:
                line, text = _record_line(vcf, index)
                raise InputError(f"{vcf} line {line} (record {index + 1}): malformed VCF record {text[:200]!r}: {err}") from err
            if variant.POS < 1:
                raise InputError(f"{vcf} record {index + 1} ({variant.CHROM}:{variant.POS}): POS must be ≥ 1")
            if variant.CHROM != last[0]:
                if variant.CHROM in finished:
                    raise InputError(f"{vcf} record {index + 1} ({variant.CHROM}:{variant.POS}): the VCF is not sorted "
                                     f"({variant.CHROM} comes again after {last[0]}); sort it, e.g. bcftools sort")
                finished.add(last[0])
            elif variant.POS < last[1]:
                raise InputError(f"{vcf} record {index + 1} ({variant.CHROM}:{variant.POS}): the VCF is not sorted "
                                 f"(after {last[0]}:{last[1]}); sort it, e.g. bcftools sort")
            last = (variant.CHROM, variant.POS)
            if index >= start:
                yield index, variant
            index += 1
    finally:
        reader.close()


class RegionFilter:
    """Membership of a record's first REF base in regions ``(chrom, start, end or None)`` (0-based, half-open).

    A record's chromosome matches a region's under the ``chr1``/``1`` and ``chrM``/``MT`` aliases.
    """

    def __init__(self, regions: Iterable[tuple[str, int, int | None]]) -> None:
        self.by_chrom: dict[str, list[tuple[int, int | None]]] = {}
        for chrom, start, end in regions:
            for name in (chrom, *chrom_aliases(chrom)):
                self.by_chrom.setdefault(name, []).append((start, end))

    def __contains__(self, record: cyvcf2.Variant) -> bool:
        spans = self.by_chrom.get(record.CHROM, ())
        start = record.POS - 1
        return any(lo <= start and (hi is None or start < hi) for lo, hi in spans)


def selected_records(
    path: str | os.PathLike[str], cfg: ScoreConfig, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, cyvcf2.Variant]]:
    """Records in ``cfg.regions`` (all when empty), at most ``cfg.limit`` (0: no limit); of those,
    the ``start``-th up to (not including) the ``stop``-th. Indices are the records' positions in the file."""
    wanted = RegionFilter(parse_region(r) for r in cfg.regions) if cfg.regions else None
    selected = (item for item in iter_records(path) if wanted is None or item[1] in wanted)
    if cfg.limit:
        selected = itertools.islice(selected, cfg.limit)
    return itertools.islice(selected, start, stop)


def count_records(path: str | os.PathLike[str], cfg: ScoreConfig | None = None) -> int:
    """Number of records :func:`selected_records` yields (one streaming pass)."""
    return sum(1 for _ in selected_records(path, cfg or ScoreConfig()))


class AlleleReader:
    """Turns cyvcf2 records into :class:`Allele` and :class:`Skip` rows.

    Args:
        fasta: the reference (pyfaidx, raw strings).
        cfg: scoring settings (policy, chromosome map, indel handling).
        source: file name used in error messages.
    """

    def __init__(self, fasta: pyfaidx.Fasta, cfg: ScoreConfig, source: str) -> None:
        self.fasta = fasta
        self.cfg = cfg
        self.source = source
        self.sizes = {name: len(record) for name, record in fasta.records.items()}
        self._chrom_cache: dict[str, str | None] = {}
        self.skipped: Counter[str] = Counter()
        self.n_alleles = 0

    def fasta_chrom(self, name: str) -> str | None:
        """The FASTA name of VCF chromosome ``name`` (explicit map, then aliases), None if absent."""
        if name not in self._chrom_cache:
            mapped = self.cfg.chrom_map.get(name, name)
            self._chrom_cache[name] = resolve_chrom(mapped, self.sizes)
        return self._chrom_cache[name]

    def _skip(self, index: int, variant: cyvcf2.Variant, alt_index: int, alt: str, reason: str, detail: str = "") -> Skip:
        self.skipped[reason] += 1
        return Skip(index, alt_index, variant.CHROM, int(variant.POS), variant.ID or ".", variant.REF, alt, reason, detail)

    def alleles(self, index: int, variant: cyvcf2.Variant) -> Iterator[Allele | Skip]:
        """One Allele or Skip per ALT of ``variant`` (one Skip for a record without ALT)."""
        ref = variant.REF.upper()
        alts = [a.upper() for a in variant.ALT]
        if not alts:
            self.n_alleles += 1
            yield self._skip(index, variant, 0, ".", "no_alt")
            return
        self.n_alleles += len(alts)
        chrom = self.fasta_chrom(variant.CHROM)
        if chrom is None:
            for i, alt in enumerate(alts):
                yield self._skip(index, variant, i, alt, "unknown_chrom", f"{variant.CHROM!r} not in the FASTA")
            return
        end = variant.POS - 1 + len(ref)
        if end > self.sizes[chrom]:
            for i, alt in enumerate(alts):
                yield self._skip(index, variant, i, alt, "outside_chrom", f"{chrom} has {self.sizes[chrom]} bp")
            return
        genome_ref = self.fasta[chrom][variant.POS - 1 : end].upper()
        for i, alt in enumerate(alts):
            if alt.startswith("<") or "[" in alt or "]" in alt:
                yield self._skip(index, variant, i, alt, "symbolic_alt")
            elif alt == "*":
                yield self._skip(index, variant, i, alt, "star_alt")
            elif not _ACGTN.match(alt) or not _ACGTN.match(ref):
                yield self._skip(index, variant, i, alt, "bad_allele")
            elif alt == ref:
                yield self._skip(index, variant, i, alt, "alt_equals_ref")
            else:
                yield self._checked(index, variant, i, chrom, alt, genome_ref)

    def _checked(self, index: int, variant: cyvcf2.Variant, alt_index: int, chrom: str, alt: str, genome_ref: str) -> Allele | Skip:
        """REF policy, then indel policy, for one well-formed ALT."""
        ref, flipped = variant.REF.upper(), False
        if ref != genome_ref:
            if self.cfg.ref_mismatch == "error":
                raise InputError(
                    f"{self.source} record {index + 1} ({variant.CHROM}:{variant.POS} {variant.ID or '.'}): "
                    f"REF {ref} does not match the FASTA ({genome_ref}); set ref_mismatch to skip or flip"
                )
            snp_flip = len(ref) == len(alt) == 1 and alt == genome_ref
            if self.cfg.ref_mismatch == "skip" or not snp_flip:
                return self._skip(index, variant, alt_index, alt, "ref_mismatch", f"FASTA has {genome_ref}")
            ref, alt, flipped = alt, ref, True
        if len(ref) != len(alt) and not self.cfg.indels:
            return self._skip(index, variant, alt_index, alt, "indel")
        if max(len(ref), len(alt)) > self.cfg.max_indel_length:
            return self._skip(index, variant, alt_index, alt, "long_allele", f"longer than {self.cfg.max_indel_length} bp")
        pos = int(variant.POS)
        return Allele(index, alt_index, chrom, variant.CHROM, pos, variant.ID or ".", ref, alt, flipped)

    def read(self, records: Iterable[tuple[int, cyvcf2.Variant]]) -> Iterator[Allele | Skip]:
        """Alleles and skips of ``records`` in file order."""
        for index, variant in records:
            yield from self.alleles(index, variant)

    def summary(self) -> str:
        """One log line: alleles seen, skipped per reason."""
        total = sum(self.skipped.values())
        reasons = ", ".join(f"{r}={n}" for r, n in sorted(self.skipped.items())) or "none"
        return f"{self.n_alleles} alleles read, {self.n_alleles - total} scored, {total} skipped ({reasons})"


def skip_reasons_table(counts: Mapping[str, int]) -> list[tuple[str, int, str]]:
    """(reason, count, explanation) rows for every reason with a non-zero count."""
    return [(r, int(counts[r]), SKIP_REASONS.get(r, "")) for r in sorted(counts) if counts[r]]
