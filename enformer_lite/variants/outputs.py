"""User-facing outputs written from a gathered HDF5 score file.

For an output prefix ``P``:

* ``P.tsv.gz``: one row per scored allele: ``chrom, pos, id, ref, alt`` then one column
  ``<SCORE>:<track id>`` per score (SAD, LOG2R, D2, MAXD) and track. ``pos`` is the VCF POS;
  ``ref``/``alt`` are as scored (reference allele first; see ``flipped`` in the HDF5 file).
* ``P.genes.tsv.gz``: one row per allele and gene whose TSS lies in the allele's target
  window: ``chrom, pos, id, ref, alt, gene_id, gene_strand, tss, distance`` then
  ``delta:<track>`` and ``log2fc:<track>`` for the gene tracks.
* ``P.skipped.tsv``: every allele not scored: ``chrom, pos, id, ref, alt, record, alt_index,
  reason, detail``.
* ``P.vcf.gz`` (+ ``.tbi``): the input VCF with INFO fields (one value per ALT):
  ``EL_STATUS`` (scored, flipped, or the skip reason), ``EL_SAD`` (the SAD of the track with
  the largest |SAD|, in the VCF's REF → ALT orientation) and ``EL_SAD_TRACK`` (that track).
  Records outside ``regions``/``limit`` and records without ALT carry no such fields. The
  input must be sorted by position for the tabix index.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import cyvcf2
import h5py
import numpy as np
import pandas as pd
import pysam

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
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


def output_paths(prefix: str | os.PathLike[str]) -> dict[str, Path]:
    """Every file written for ``prefix``."""
    p = str(prefix)
    return {
        "h5": Path(f"{p}.h5"), "tsv": Path(f"{p}.tsv.gz"), "genes": Path(f"{p}.genes.tsv.gz"),
        "skipped": Path(f"{p}.skipped.tsv"), "vcf": Path(f"{p}.vcf.gz"), "tbi": Path(f"{p}.vcf.gz.tbi"),
    }


def _write_gzip_tsv(path: Path, frames: Iterable[pd.DataFrame]) -> None:
    with atomic_output(path) as tmp, gzip.open(tmp, "wt", compresslevel=6) as handle:
        header = True
        for frame in frames:
            frame.to_csv(handle, sep="\t", index=False, header=header, float_format="%.6g")
            header = False


def score_frames(handle: h5py.File, block: int = 65536) -> Iterator[pd.DataFrame]:
    """The scores table in row blocks (see the module docstring)."""
    track_ids = [t.id for t in file_tracks(handle)]
    columns = [f"{s}:{t}" for s in SCORE_NAMES for t in track_ids]
    for start, stop in iter_blocks(handle, "alleles", block):
        ids = read_table(handle["alleles"], start, stop)[_ID_COLUMNS]
        values = np.concatenate([handle[f"scores/{s}"][start:stop] for s in SCORE_NAMES], axis=1)
        yield pd.concat([ids, pd.DataFrame(values, columns=columns)], axis=1)
    if not handle["alleles/record"].shape[0]:
        yield pd.DataFrame(columns=_ID_COLUMNS + columns)


def gene_frames(handle: h5py.File, block: int = 65536) -> Iterator[pd.DataFrame]:
    """The variant–gene table in row blocks."""
    tracks = file_tracks(handle)
    gene_ids = [tracks[i].id for i in json.loads(handle.attrs["gene_tracks"])]
    columns = [f"{s}:{t}" for s in GENE_SCORE_NAMES for t in gene_ids]
    alleles = read_table(handle["alleles"])[_ID_COLUMNS]
    for start, stop in iter_blocks(handle, "genes", block):
        genes = read_table(handle["genes"], start, stop)
        ids = alleles.iloc[genes["allele"].to_numpy()].reset_index(drop=True)
        info = genes[["gene_id", "strand", "tss", "distance"]].rename(columns={"strand": "gene_strand"})
        values = np.concatenate([handle[f"gene_scores/{s}"][start:stop] for s in GENE_SCORE_NAMES], axis=1)
        yield pd.concat([ids, info, pd.DataFrame(values, columns=columns)], axis=1)
    if not handle["genes/allele"].shape[0]:
        yield pd.DataFrame(columns=_ID_COLUMNS + ["gene_id", "gene_strand", "tss", "distance"] + columns)


def write_skipped(handle: h5py.File, path: Path) -> None:
    """The skipped alleles as TSV (header only when none were skipped)."""
    table = read_table(handle["skipped"])
    order = ["chrom", "pos", "id", "ref", "alt", "record", "alt_index", "reason", "detail"]
    table = table.reindex(columns=order).sort_values(["record", "alt_index"], kind="stable")
    with atomic_output(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def _annotations(handle: h5py.File) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(record, alt_index, status, sad, track) for every allele, sorted by record then ALT."""
    alleles = read_table(handle["alleles"])
    skipped = read_table(handle["skipped"])
    track_ids = np.array([t.id for t in file_tracks(handle)], dtype=object)
    sad = handle["scores/SAD"][:]
    best = np.abs(sad).argmax(axis=1) if sad.shape[1] else np.zeros(len(sad), dtype=np.intp)
    best_sad = sad[np.arange(len(sad)), best] if sad.shape[1] else np.full(len(sad), np.nan)
    flipped = alleles["flipped"].to_numpy(dtype=bool)
    best_sad = np.where(flipped, -best_sad, best_sad)  # back to the VCF's REF → ALT orientation
    record = np.concatenate([alleles["record"].to_numpy(np.int64), skipped["record"].to_numpy(np.int64)])
    alt_index = np.concatenate([alleles["alt_index"].to_numpy(np.int64), skipped["alt_index"].to_numpy(np.int64)])
    status = np.concatenate([np.where(flipped, "flipped", "scored").astype(object), skipped["reason"].to_numpy(object)])
    values = np.concatenate([best_sad, np.full(len(skipped), np.nan)])
    tracks = np.concatenate([track_ids[best] if len(track_ids) else np.full(len(sad), "", object), np.full(len(skipped), "", object)])
    order = np.lexsort((alt_index, record))
    return record[order], alt_index[order], status[order], values[order], tracks[order]


def annotate_vcf(vcf: str | os.PathLike[str], handle: h5py.File, out: Path) -> int:
    """Write ``vcf`` with the INFO fields of :data:`INFO_FIELDS` as bgzipped VCF plus tabix index.

    Returns the number of records annotated. Raises InputError when the score file does not
    belong to ``vcf`` (a scored record's chromosome or POS differs).
    """
    record, alt_index, status, values, tracks = _annotations(handle)
    alleles = read_table(handle["alleles"])[["record", "vcf_chrom", "pos"]].drop_duplicates("record").set_index("record")
    reader = open_vcf(vcf)
    for field in INFO_FIELDS:
        reader.add_info_to_header(field)
    tbi = Path(f"{out}.tbi")
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}.vcf.gz")
    annotated = 0
    try:
        writer = cyvcf2.Writer(str(tmp), reader, mode="wz")
        for index, variant in iter_records(vcf, reader=reader):
            lo, hi = np.searchsorted(record, [index, index + 1])
            if index in alleles.index:
                expected = alleles.loc[index]
                if expected["vcf_chrom"] != variant.CHROM or int(expected["pos"]) != variant.POS:
                    raise InputError(
                        f"{vcf} record {index + 1} is {variant.CHROM}:{variant.POS} but the scores were computed for "
                        f"{expected['vcf_chrom']}:{expected['pos']}: scores and VCF do not belong together"
                    )
            if hi > lo and variant.ALT:  # Number=A fields have no slot when ALT is '.'
                n_alt = len(variant.ALT)
                slot_status, slot_sad, slot_track = ["."] * n_alt, ["."] * n_alt, ["."] * n_alt
                for row in range(lo, hi):
                    k = int(alt_index[row])
                    slot_status[k] = str(status[row])
                    if np.isfinite(values[row]):
                        slot_sad[k], slot_track[k] = f"{values[row]:.6g}", str(tracks[row])
                variant.INFO["EL_STATUS"] = ",".join(slot_status)
                if any(s != "." for s in slot_sad):
                    variant.INFO["EL_SAD"] = ",".join(slot_sad)
                    variant.INFO["EL_SAD_TRACK"] = ",".join(slot_track)
                annotated += 1
            writer.write_record(variant)
        writer.close()
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
