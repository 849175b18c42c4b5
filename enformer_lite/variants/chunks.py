"""Chunks of a VCF as genomic regions, read through its tabix/CSI index: each record once per job.

Chunk ``k`` of ``n`` is a list of :class:`Segment` in file order: pieces of contigs, read by
region query (cyvcf2 over the ``.tbi``/``.csi`` index), or contigs that no chunk needs to read
(outside ``regions``), whose records are only counted from the index. The plan comes from the
index's per-contig record counts (``bcftools index --stats`` through pysam, in file order):
the contigs that must be read are cut into ``n`` pieces of about equal record count, each contig's
count spread evenly over its length. A record belongs to the piece holding its first REF base
(``POS - 1``, pieces 0-based half-open), so a deletion across a cut is read by one chunk only;
the pieces of every contig cover ``[0, ∞)``, so the chunks together hold every record once.

Record numbers: a job numbers the records of its segments from 0 in file order (counted
contigs included), so chunk 0, and a single-chunk run, number records as the VCF does; the
gather step adds the records of the chunks before (:attr:`ChunkReader.n_records`, stored
per part). ``limit`` (the first ``limit`` selected records) is found by a scan up to the
``limit``-th selected record, repeated by every job, so keep it small (a demo or test setting).

A VCF without index can be scored in one chunk (one linear pass); for more chunks, index a
bgzipped copy with :func:`write_indexed_copy` (``score-variants --index-copy``): the user's file
is only read, never modified.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cyvcf2
import pysam
from pysam import bcftools

from enformer_lite.errors import InputError
from enformer_lite.variants.alleles import RegionFilter, open_vcf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContigCount:
    """One contig of a VCF's index: name, length (None when the header gives none), record count."""

    name: str
    length: int | None
    records: int


@dataclass(frozen=True)
class Segment:
    """Records whose ``POS - 1`` lies in ``[start, end)`` of contig ``chrom`` (``end`` None: to its end).

    ``read`` False: the contig is not read, its ``records`` (the index's count) are only counted.
    """

    chrom: str
    start: int = 0
    end: int | None = None
    records: int = 0
    read: bool = True

    def region(self) -> str:
        """The htslib region string of the segment (1-based inclusive; braces around names with ':')."""
        name = f"{{{self.chrom}}}" if ":" in self.chrom else self.chrom
        if self.start == 0 and self.end is None:
            return name
        return f"{name}:{self.start + 1}-{'' if self.end is None else self.end}"

    def __str__(self) -> str:
        return self.region() if self.read else f"{self.region()} (counted, {self.records} records)"


@dataclass(frozen=True)
class StopKey:
    """The last record kept under ``limit``: contig, POS and its rank among the contig's records at that POS."""

    chrom: str
    pos: int
    ordinal: int


def index_file(vcf: str | os.PathLike[str]) -> Path | None:
    """The ``.tbi`` or ``.csi`` index next to ``vcf``, None when there is none."""
    for suffix in (".tbi", ".csi"):
        if Path(f"{vcf}{suffix}").is_file():
            return Path(f"{vcf}{suffix}")
    return None


def contig_counts(vcf: str | os.PathLike[str]) -> list[ContigCount]:
    """Record counts per contig from the index of ``vcf``, in file order (InputError when unreadable)."""
    index = index_file(vcf)
    if index is None:
        raise InputError(f"{vcf}: no tabix (.tbi) or CSI (.csi) index next to it")
    try:
        text = bcftools.index("--stats", str(vcf))
    except pysam.utils.SamtoolsError as err:
        raise InputError(f"{vcf}: cannot read the record counts of its index {index} (re-index it with "
                         f"`tabix -f -p vcf` or `bcftools index -f`): {err}") from err
    counts = []
    for line in text.splitlines():
        if line.strip():
            name, length, records = line.split("\t")
            counts.append(ContigCount(name, None if length == "." else int(length), int(records)))
    return counts


def _query(reader: cyvcf2.VCF, segment: Segment, source: str) -> Iterator[cyvcf2.Variant]:
    """Records of the segment's region whose first base lies in the segment (in file order)."""
    records = reader(segment.region())
    while True:
        try:
            variant = next(records)
        except StopIteration:
            return
        except Exception as err:  # htslib parse errors surface as bare exceptions
            raise InputError(f"{source} region {segment.region()}: malformed VCF record: {err}") from err
        start = variant.POS - 1
        if start < segment.start:
            continue  # begins in the previous piece and reaches into this one
        if segment.end is not None and start >= segment.end:
            return
        yield variant


def _wants(wanted: RegionFilter | None, chrom: str) -> bool:
    return wanted is None or chrom in wanted.by_chrom


def limit_stop(vcf: str | os.PathLike[str], counts: Sequence[ContigCount], wanted: RegionFilter | None, limit: int) -> StopKey | None:
    """The ``limit``-th selected record, found by reading contigs in file order (None: fewer records, or no limit)."""
    if not limit:
        return None
    selected = 0
    reader = open_vcf(vcf)
    try:
        for contig in counts:
            if not contig.records or not _wants(wanted, contig.name):
                continue
            last, ordinal = -1, 0
            for variant in _query(reader, Segment(contig.name), str(vcf)):
                ordinal = ordinal + 1 if variant.POS == last else 0
                last = variant.POS
                if wanted is None or variant in wanted:
                    selected += 1
                    if selected == limit:
                        return StopKey(contig.name, variant.POS, ordinal)
    finally:
        reader.close()
    return None


def plan_chunks(
    counts: Sequence[ContigCount], n_chunks: int, wanted: RegionFilter | None = None,
    lengths: Mapping[str, int] | None = None, stop: StopKey | None = None,
) -> list[list[Segment]]:
    """The segments of each of ``n_chunks`` chunks (see the module docstring).

    ``lengths`` are contig lengths where the index has none (e.g. from the FASTA); a contig of
    unknown length is not cut. Contigs after ``stop``'s are left out (the limit ends there).
    """
    if n_chunks < 1:
        raise InputError(f"--n-chunks {n_chunks}: must be ≥ 1")
    items: list[tuple[ContigCount, int | None, bool]] = []
    for contig in counts:
        length = contig.length if contig.length is not None else (lengths or {}).get(contig.name)
        read = contig.records > 0 and _wants(wanted, contig.name)
        weight = contig.records if read else 0
        if stop is not None and contig.name == stop.chrom:
            if length:  # the records beyond the stop are never read: weigh the part before it
                weight = max(1, math.ceil(weight * min(1.0, stop.pos / length)))
            items.append((ContigCount(contig.name, stop.pos, weight), stop.pos, True))
            break
        items.append((ContigCount(contig.name, length, weight), length, read))
    total = sum(c.records for c, _, read in items if read)
    cuts = [total * k / n_chunks for k in range(1, n_chunks)]
    chunks: list[list[Segment]] = [[] for _ in range(n_chunks)]
    done, k = 0, 0
    by_name = {c.name: c.records for c in counts}
    for contig, length, read in items:
        if not read:
            chunks[k].append(Segment(contig.name, records=by_name[contig.name], read=False))
            continue
        start = 0
        while k < n_chunks - 1 and cuts[k] < done + contig.records:
            cut = math.floor((cuts[k] - done) / contig.records * length) if length else 0
            if cut > start:
                chunks[k].append(Segment(contig.name, start, cut))
                start = cut
            k += 1
        chunks[k].append(Segment(contig.name, start))
        done += contig.records
    return chunks


class ChunkReader:
    """The records of one chunk's segments, each read once: ``(record number in the chunk, record)``.

    Attributes (complete after iteration):
        records_read: records pulled from cyvcf2 (the records of the read segments, up to the stop).
        n_records: records the chunk covers (read and counted); the next chunk's numbers start after them.
    """

    def __init__(self, vcf: str | os.PathLike[str], segments: Sequence[Segment],
                 wanted: RegionFilter | None = None, stop: StopKey | None = None) -> None:
        self.vcf = str(vcf)
        self.segments = list(segments)
        self.wanted = wanted
        self.stop = stop
        self.records_read = 0
        self.n_records = 0

    def __iter__(self) -> Iterator[tuple[int, cyvcf2.Variant]]:
        reader = open_vcf(self.vcf)
        try:
            for segment in self.segments:
                if not segment.read:
                    self.n_records += segment.records
                    continue
                last, ordinal = -1, 0
                for variant in _query(reader, segment, self.vcf):
                    ordinal = ordinal + 1 if variant.POS == last else 0
                    last = variant.POS
                    stop = self.stop
                    if stop is not None and variant.CHROM == stop.chrom and (variant.POS, ordinal) > (stop.pos, stop.ordinal):
                        return
                    self.records_read += 1
                    self.n_records += 1
                    if self.wanted is None or variant in self.wanted:
                        yield self.n_records - 1, variant
        finally:
            reader.close()


def write_indexed_copy(vcf: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """A bgzipped copy of ``vcf`` (plain, gzip, bgzip or BCF) at ``out`` with its tabix index ``out.tbi``.

    Text is copied byte for byte; BCF is written as VCF by cyvcf2. ``vcf`` is only read. The
    outputs appear only when both are complete; InputError when the VCF cannot be indexed
    (not sorted by position, or not a VCF).
    """
    source, target = Path(vcf), Path(out)
    open_vcf(source).close()  # a clear message for a missing or unreadable file
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}.vcf.gz")
    try:
        with open(source, "rb") as handle:
            compressed = handle.read(2) == b"\x1f\x8b"
        with (gzip.open if compressed else open)(source, "rb") as handle:
            is_bcf = handle.read(3) == b"BCF"
        if is_bcf:
            reader = open_vcf(source)
            writer = cyvcf2.Writer(str(tmp), reader, mode="wz")
            for variant in reader:
                writer.write_record(variant)
            writer.close()
            reader.close()
        else:
            with (gzip.open if compressed else open)(source, "rb") as handle, pysam.BGZFile(str(tmp), "wb") as sink:
                while block := handle.read(1 << 20):
                    sink.write(block)
        try:
            pysam.tabix_index(str(tmp), preset="vcf", force=True, index=f"{tmp}.tbi")
        except (OSError, ValueError) as err:
            raise InputError(f"{source}: cannot index a copy of it (is it sorted by position? e.g. bcftools sort): {err}") from err
        os.replace(f"{tmp}.tbi", f"{target}.tbi")
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, Path(f"{tmp}.tbi")):
            if leftover.exists():
                leftover.unlink()
    log.info("%s: bgzipped, tabix-indexed copy written to %s", source, target)
    return target
