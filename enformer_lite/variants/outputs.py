"""User-facing outputs written from a gathered HDF5 score file.

For an output prefix ``P``:

* ``P.tsv.gz``: one row per scored allele: ``chrom, pos, id, ref, alt`` then one column
  ``<SCORE>:<track id>`` per score (SAD, LOG2R, D2, MAXD) and track. ``pos`` is the VCF POS;
  ``ref``/``alt`` are as scored (reference allele first; see ``flipped`` in the HDF5 file).
  A calibrated score file (``gather-variants --background``) adds ``Q_<SCORE>:<track id>``
  columns after them: the signed quantiles in [−1, 1] of ``/quantiles/<SCORE>``
  (:mod:`enformer_lite.interpret.calibrate`), in the same orientation as the scores.
* ``P.genes.tsv.gz``: one row per allele and gene whose TSS lies in the allele's target
  window: ``chrom, pos, id, ref, alt, gene_id, gene_strand, tss, distance`` then
  ``delta:<track>`` and ``log2fc:<track>`` for the gene tracks.
* ``P.skipped.tsv``: every allele not scored: ``chrom, pos, id, ref, alt, record, alt_index,
  reason, detail``.
* ``P.vcf.gz`` (+ ``.tbi``): the input VCF with INFO fields (one value per ALT):
  ``EL_STATUS`` (scored, flipped, or the skip reason), ``EL_SAD`` (the SAD of the track with
  the largest |SAD|, in the VCF's REF → ALT orientation) and ``EL_SAD_TRACK`` (that track).
  A calibrated score file adds ``EL_Q_<SCORE>`` (the quantile of the track with the largest
  |quantile|, REF → ALT orientation), ``EL_Q_<SCORE>_TRACK`` and a ``##EL_Q_BACKGROUND=`` header
  line with the background's size, source and file.
  Records outside ``regions``/``limit`` and records without ALT carry no such fields. The
  input must be sorted by position for the tabix index.
"""

from __future__ import annotations

import gzip
import json
import math
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cyvcf2
import h5py
import numpy as np
import pandas as pd
import pysam

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.interpret.calibrate import quantile_names
from enformer_lite.variants.alleles import iter_records, open_vcf
from enformer_lite.variants.scores import GENE_SCORE_NAMES, SCORE_NAMES
from enformer_lite.variants.store import file_tracks, iter_blocks, open_scores, read_table

log = logging.getLogger(__name__)

INFO_FIELDS = (
    {"ID": "EL_STATUS", "Number": "A", "Type": "String",
     "Description": "enformer-lite: scored, flipped (REF/ALT swapped to match the FASTA), or the reason the ALT was skipped"},
    {"ID": "EL_SAD", "Number": "A", "Type": "Float",
     "Description": "enformer-lite: SAD (sum over target bins of ALT minus REF prediction) of the track with the largest |SAD|"},
    {"ID": "EL_SAD_TRACK", "Number": "A", "Type": "String",
     "Description": "enformer-lite: id of the track with the largest |SAD|"},
)
_ID_COLUMNS = ["chrom", "pos", "id", "ref", "alt"]


def quantile_info_fields(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The INFO header entries ``EL_Q_<name>`` and ``EL_Q_<name>_TRACK`` of a calibrated score."""
    return (
        {"ID": f"EL_Q_{name}", "Number": "A", "Type": "Float",
         "Description": f"enformer-lite: signed quantile in [-1,1] of {name} against the background "
                        "(track with the largest |quantile|; see ##EL_Q_BACKGROUND)"},
        {"ID": f"EL_Q_{name}_TRACK", "Number": "A", "Type": "String", "Description": f"enformer-lite: track of EL_Q_{name}"},
    )


def background_header_line(handle: h5py.File) -> str:
    """``##EL_Q_BACKGROUND=`` line of a calibrated score file: the background's size, source and file."""
    attrs = handle["quantiles"].attrs
    return (f"##EL_Q_BACKGROUND={int(attrs['background_size'])} alleles; source: {attrs['background_source']}; "
            f"file: {attrs['background_file']}")


def output_paths(prefix: str | os.PathLike[str]) -> dict[str, Path]:
    """Every file written for ``prefix``."""
    p = str(prefix)
    return {
        "h5": Path(f"{p}.h5"), "tsv": Path(f"{p}.tsv.gz"), "genes": Path(f"{p}.genes.tsv.gz"),
        "skipped": Path(f"{p}.skipped.tsv"), "vcf": Path(f"{p}.vcf.gz"), "tbi": Path(f"{p}.vcf.gz.tbi"),
    }


def _tsv_text(frame: pd.DataFrame, header: bool) -> str:
    """``frame`` as TSV text, floats as ``%.6g`` and NaN empty: what ``to_csv(sep="\\t", float_format="%.6g")``
    writes, formatted column by column (about 3× faster); frames with fields that need quoting go to pandas."""
    columns: list[list[str]] = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f":
            text = ["%.6g" % x for x in values.tolist()]
            for i in np.flatnonzero(np.isnan(values)).tolist():
                text[i] = ""
        else:
            text = [str(x) for x in values.tolist()]
            if values.dtype.kind not in "iub" and (any(x is None for x in values.tolist())
                                                   or any(c in "".join(text) for c in '\t"\r\n')):
                return frame.to_csv(sep="\t", index=False, header=header, float_format="%.6g")
        columns.append(text)
    lines = "".join(line + "\n" for line in map("\t".join, zip(*columns)))
    return ("\t".join(map(str, frame.columns)) + "\n" if header else "") + lines


def _write_gzip_tsv(path: Path, frames: Iterable[pd.DataFrame]) -> None:
    with atomic_output(path) as tmp, gzip.open(tmp, "wt", compresslevel=3) as handle:
        header = True
        for frame in frames:
            handle.write(_tsv_text(frame, header))
            header = False


def score_frames(handle: h5py.File, block: int | None = None) -> Iterator[pd.DataFrame]:
    """The scores table in row blocks (see the module docstring)."""
    track_ids = [t.id for t in file_tracks(handle)]
    datasets = [f"scores/{s}" for s in SCORE_NAMES] + [f"quantiles/{s}" for s in quantile_names(handle)]
    columns = [f"{s}:{t}" for s in SCORE_NAMES for t in track_ids]
    columns += [f"Q_{s}:{t}" for s in quantile_names(handle) for t in track_ids]
    for start, stop in iter_blocks(handle, "alleles", block):
        ids = read_table(handle["alleles"], start, stop, _ID_COLUMNS)
        values = np.concatenate([handle[name][start:stop] for name in datasets], axis=1)
        yield pd.concat([ids, pd.DataFrame(values, columns=columns)], axis=1)
    if not handle["alleles/record"].shape[0]:
        yield pd.DataFrame(columns=_ID_COLUMNS + columns)


def gene_frames(handle: h5py.File, block: int | None = None) -> Iterator[pd.DataFrame]:
    """The variant–gene table in row blocks (each block reads only the allele rows it refers to)."""
    tracks = file_tracks(handle)
    gene_ids = [tracks[i].id for i in json.loads(handle.attrs["gene_tracks"])]
    columns = [f"{s}:{t}" for s in GENE_SCORE_NAMES for t in gene_ids]
    for start, stop in iter_blocks(handle, "genes", block):
        genes = read_table(handle["genes"], start, stop)
        rows = genes["allele"].to_numpy(np.int64)
        first = int(rows.min())
        ids = read_table(handle["alleles"], first, int(rows.max()) + 1, _ID_COLUMNS).iloc[rows - first].reset_index(drop=True)
        info = genes[["gene_id", "strand", "tss", "distance"]].rename(columns={"strand": "gene_strand"})
        values = np.concatenate([handle[f"gene_scores/{s}"][start:stop] for s in GENE_SCORE_NAMES], axis=1)
        yield pd.concat([ids, info, pd.DataFrame(values, columns=columns)], axis=1)
    if not handle["genes/allele"].shape[0]:
        yield pd.DataFrame(columns=_ID_COLUMNS + ["gene_id", "gene_strand", "tss", "distance"] + columns)


def _sorted_by_record(handle: h5py.File, group: str) -> bool:
    """Whether table ``group`` is in (record, alt_index) order (one streaming pass over the two columns)."""
    last = (-1, -1)
    for start, stop in iter_blocks(handle, group):
        record = handle[f"{group}/record"][start:stop]
        alt = handle[f"{group}/alt_index"][start:stop]
        pairs = record.astype(np.int64) * (1 << 20) + alt
        if (record[0], alt[0]) < last or np.any(np.diff(pairs) < 0):
            return False
        last = (int(record[-1]), int(alt[-1]))
    return True


def write_skipped(handle: h5py.File, path: Path) -> None:
    """The skipped alleles as TSV in (record, ALT) order (header only when none were skipped), streamed."""
    order = ["chrom", "pos", "id", "ref", "alt", "record", "alt_index", "reason", "detail"]
    if _sorted_by_record(handle, "skipped"):  # as every score file is written
        frames: Iterable[pd.DataFrame] = (read_table(handle["skipped"], a, b, order) for a, b in iter_blocks(handle, "skipped"))
    else:
        frames = [read_table(handle["skipped"], columns=order).sort_values(["record", "alt_index"], kind="stable")]
    with atomic_output(path) as tmp, open(tmp, "w") as out:
        pd.DataFrame(columns=order).to_csv(out, sep="\t", index=False)
        for frame in frames:
            frame.to_csv(out, sep="\t", index=False, header=False)


def largest_by_magnitude(
    values: np.ndarray, track_ids: np.ndarray, flipped: np.ndarray, skip_nan: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of (n, T) ``values``: the value of largest |value|, back in the VCF's REF → ALT orientation
    where ``flipped``, and its track id. A NaN wins (the row gets none) unless ``skip_nan`` (NaN only when
    the whole row is)."""
    if not values.shape[1]:
        return np.full(len(values), np.nan), np.full(len(values), "", object)
    magnitude = np.abs(values)
    best = (np.where(np.isnan(magnitude), -1.0, magnitude) if skip_nan else magnitude).argmax(axis=1)
    value = values[np.arange(len(values)), best]
    return np.where(flipped, -value, value), track_ids[best]


def _allele_rows(handle: h5py.File) -> Iterator[dict[str, np.ndarray]]:
    """Blocks of scored alleles: record, alt_index, status, SAD and track of the largest |SAD| (VCF orientation),
    chrom, pos, and per calibrated score (columns of qvalue/qtrack) the quantile of largest |quantile| and its track."""
    track_ids = np.array([t.id for t in file_tracks(handle)], dtype=object)
    names = quantile_names(handle)
    for start, stop in iter_blocks(handle, "alleles"):
        flipped = handle["alleles/flipped"][start:stop].astype(bool)
        value, track = largest_by_magnitude(handle["scores/SAD"][start:stop], track_ids, flipped)
        best_q = [largest_by_magnitude(handle[f"quantiles/{name}"][start:stop], track_ids, flipped, skip_nan=True) for name in names]
        n = stop - start
        yield {
            "record": handle["alleles/record"][start:stop], "alt_index": handle["alleles/alt_index"][start:stop],
            "status": np.where(flipped, "flipped", "scored").astype(object), "value": value, "track": track,
            "chrom": handle["alleles/vcf_chrom"].asstr()[start:stop], "pos": handle["alleles/pos"][start:stop],
            "qvalue": np.stack([q for q, _ in best_q], axis=1) if names else np.zeros((n, 0)),
            "qtrack": np.stack([t for _, t in best_q], axis=1) if names else np.zeros((n, 0), object),
        }


def _skip_rows(handle: h5py.File) -> Iterator[dict[str, np.ndarray]]:
    """Blocks of skipped alleles: record, alt_index, status (the reason), value NaN, track '', quantiles NaN."""
    k = len(quantile_names(handle))
    for start, stop in iter_blocks(handle, "skipped"):
        n = stop - start
        yield {"record": handle["skipped/record"][start:stop], "alt_index": handle["skipped/alt_index"][start:stop],
               "status": handle["skipped/reason"].asstr()[start:stop], "value": np.full(n, np.nan),
               "track": np.full(n, "", object), "chrom": np.full(n, "", object), "pos": np.zeros(n, np.int64),
               "qvalue": np.full((n, k), np.nan), "qtrack": np.full((n, k), "", object)}


class _Cursor:
    """Rows of a record-ordered stream of blocks, taken record by record (memory: one block).

    Rows are tuples of the block's columns in :data:`_ROW` order.
    """

    def __init__(self, blocks: Iterator[dict[str, np.ndarray]], what: str) -> None:
        self.blocks, self.what = blocks, what
        self.rows: list[tuple[Any, ...]] = []
        self.records: list[int] = []
        self.row = 0
        self.next_record = -1
        self._advance()

    def _advance(self) -> None:
        while self.row >= len(self.rows):
            block = next(self.blocks, None)
            if block is None:
                self.next_record = -1
                return
            self.records = block["record"].tolist()
            self.rows = list(zip(*(block[k].tolist() for k in _ROW)))
            self.row = 0
        self.next_record = self.records[self.row]

    def take(self, record: int) -> list[tuple[Any, ...]]:
        """The rows of ``record`` (the stream must not hold rows of an earlier record)."""
        rows = []
        while self.next_record == record:
            rows.append(self.rows[self.row])
            self.row += 1
            if self.row < len(self.rows):
                self.next_record = self.records[self.row]
            else:
                self._advance()
        if 0 <= self.next_record < record:
            raise InputError(f"score file: {self.what} rows are not in record order (record {self.next_record} after {record})")
        return rows


_ROW = ("alt_index", "status", "value", "track", "chrom", "pos", "qvalue", "qtrack")


def annotate_vcf(vcf: str | os.PathLike[str], handle: h5py.File, out: Path) -> int:
    """Write ``vcf`` with the INFO fields of :data:`INFO_FIELDS` (and, for a calibrated score file, those of
    :func:`quantile_info_fields` and the ``##EL_Q_BACKGROUND=`` line) as bgzipped VCF plus tabix index.

    One streaming pass over the VCF and the score file's record-ordered tables. Returns the
    number of records annotated. Raises InputError when the score file does not belong to
    ``vcf`` (a scored record's chromosome or POS differs, or it names records the VCF lacks).
    """
    scored, skipped = _Cursor(_allele_rows(handle), "allele"), _Cursor(_skip_rows(handle), "skipped")
    names = quantile_names(handle)
    reader = open_vcf(vcf)
    for field in INFO_FIELDS:
        reader.add_info_to_header(field)
    if names:
        reader.add_to_header(background_header_line(handle))
        for name in names:
            for field in quantile_info_fields(name):
                reader.add_info_to_header(field)
    tbi = Path(f"{out}.tbi")
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}.vcf.gz")
    annotated = n_records = 0
    try:
        writer = cyvcf2.Writer(str(tmp), reader, mode="wz")
        for index, variant in iter_records(vcf, reader=reader):
            n_records = index + 1
            rows = scored.take(index)
            if rows and (rows[0][4] != variant.CHROM or rows[0][5] != variant.POS):
                raise InputError(
                    f"{vcf} record {index + 1} is {variant.CHROM}:{variant.POS} but the scores were computed for "
                    f"{rows[0][4]}:{rows[0][5]}: scores and VCF do not belong together"
                )
            rows += skipped.take(index)
            if rows and variant.ALT:  # Number=A fields have no slot when ALT is '.'
                n_alt = len(variant.ALT)
                slot_status, slot_sad, slot_track = ["."] * n_alt, ["."] * n_alt, ["."] * n_alt
                slot_q = [["."] * n_alt for _ in names]
                slot_q_track = [["."] * n_alt for _ in names]
                for k, state, value, track, _, _, q_values, q_tracks in rows:
                    slot_status[k] = str(state)
                    if math.isfinite(value):
                        slot_sad[k], slot_track[k] = f"{value:.6g}", str(track)
                    for j, (q, q_track) in enumerate(zip(q_values, q_tracks)):
                        if math.isfinite(q):
                            slot_q[j][k], slot_q_track[j][k] = f"{q:.6g}", str(q_track)
                variant.INFO["EL_STATUS"] = ",".join(slot_status)
                if any(s != "." for s in slot_sad):
                    variant.INFO["EL_SAD"] = ",".join(slot_sad)
                    variant.INFO["EL_SAD_TRACK"] = ",".join(slot_track)
                for name, q_slots, q_track_slots in zip(names, slot_q, slot_q_track):
                    if any(s != "." for s in q_slots):
                        variant.INFO[f"EL_Q_{name}"] = ",".join(q_slots)
                        variant.INFO[f"EL_Q_{name}_TRACK"] = ",".join(q_track_slots)
                annotated += 1
            writer.write_record(variant)
        writer.close()
        left = max(scored.next_record, skipped.next_record)
        if left >= 0:
            raise InputError(f"the score file names record {left + 1} but {vcf} has {n_records}: "
                             "scores and VCF do not belong together")
        try:
            pysam.tabix_index(str(tmp), preset="vcf", force=True)
        except (OSError, ValueError) as err:
            raise InputError(f"{vcf}: cannot index the annotated VCF (is the input sorted by position?): {err}") from err
        os.replace(f"{tmp}.tbi", tbi)
        os.replace(tmp, out)
    finally:
        reader.close()
        for leftover in (tmp, Path(f"{tmp}.tbi")):
            if leftover.exists():
                leftover.unlink()
    return annotated


def write_outputs(h5: str | os.PathLike[str], vcf: str | os.PathLike[str], prefix: str | os.PathLike[str]) -> dict[str, Path]:
    """Every output of the module docstring from the score file ``h5`` and the input ``vcf``."""
    paths = output_paths(prefix)
    with open_scores(h5) as handle:
        _write_gzip_tsv(paths["tsv"], score_frames(handle))
        _write_gzip_tsv(paths["genes"], gene_frames(handle))
        write_skipped(handle, paths["skipped"])
        n = annotate_vcf(vcf, handle, paths["vcf"])
        log.info(
            "wrote %d scored alleles, %d variant-gene pairs, %d skipped alleles; annotated %d VCF records (%s.*)",
            handle["alleles/record"].shape[0], handle["genes/allele"].shape[0], handle["skipped/record"].shape[0], n, prefix,
        )
    return paths
