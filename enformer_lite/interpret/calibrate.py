"""Calibrated variant scores: signed quantiles against a background set scored the same way.

For a score ``s`` of one track, the quantile is ``q = sign(s) · F(|s|)`` where ``F`` is the
empirical distribution of |score| over the background alleles of that track (mid-ranks for
ties), so ``q`` lies in [−1, 1]: ±0.99 means larger in magnitude than 99 % of ordinary variants,
in the direction of the sign. This follows AlphaGenome's quantile scores of signed scorers.

The background is either a user VCF of common variants (e.g. gnomAD, scored with
``score-variants``) or, by default, SNPs drawn from the genome's windows with a fixed seed
(:func:`sample_background`). Outputs for a prefix ``P``:

* ``P.quantiles.tsv.gz``: chrom, pos, id, ref, alt, then ``Q_<SCORE>:<track>`` per score and track;
* ``P.quantiles.h5``: ``/alleles/{record, alt_index, chrom, pos, id, ref, alt, flipped}`` (N,) and
  ``/quantiles/<SCORE>`` float32 (N, T); attributes ``tracks``, ``background_size``,
  ``background_source``, ``scores_file``, ``background_file``;
* ``P.vcf.gz`` (+ ``.tbi``): the VCF with INFO ``EL_Q_<SCORE>`` (per ALT: the quantile of the track
  with the largest |quantile|, in the VCF's REF → ALT orientation) and ``EL_Q_<SCORE>_TRACK``, and
  a ``##EL_Q_BACKGROUND=`` header line with the background's size and source.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.atomic import atomic_output, h5_output
from enformer_lite.errors import InputError

log = logging.getLogger(__name__)

_ALLELE_COLUMNS = ["record", "alt_index", "chrom", "pos", "id", "ref", "alt", "flipped"]


def signed_quantiles(values: npt.NDArray[np.floating], background: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """``sign(v) · F(|v|)`` column by column: values (N, T), background (M, T) → (N, T) in [−1, 1].

    ``F(x) = (#{|b| < x} + ½ #{|b| = x}) / M`` over the finite background values of the column;
    NaN where the value is NaN or the column has no finite background value.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    background = np.atleast_2d(np.asarray(background, dtype=np.float64))
    if values.shape[1] != background.shape[1]:
        raise InputError(f"scores have {values.shape[1]} tracks but the background has {background.shape[1]}")
    out = np.full(values.shape, np.nan)
    for t in range(values.shape[1]):
        bg = np.sort(np.abs(background[:, t][np.isfinite(background[:, t])]))
        if bg.size == 0:
            continue
        mag = np.abs(values[:, t])
        finite = np.isfinite(mag)
        below = np.searchsorted(bg, mag[finite], side="left")
        upto = np.searchsorted(bg, mag[finite], side="right")
        out[finite, t] = np.sign(values[finite, t]) * (below + 0.5 * (upto - below)) / bg.size
    return out


def _read_scores(path: str | os.PathLike[str], names: Sequence[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict]:
    from enformer_lite.variants.store import file_tracks, open_scores, read_table

    with open_scores(path) as handle:
        missing = [n for n in names if f"scores/{n}" not in handle]
        if missing:
            raise InputError(f"{path}: variant score file lacks scores {', '.join(missing)}")
        alleles = read_table(handle["alleles"], columns=_ALLELE_COLUMNS)
        scores = {n: handle[f"scores/{n}"][:] for n in names}
        meta = {"tracks": [t.id for t in file_tracks(handle)],
                **{k: handle.attrs[k] for k in ("head", "window_length", "bin_size", "target_length") if k in handle.attrs}}
    return alleles, scores, meta


def _check_same_scoring(meta: Mapping, bg_meta: Mapping, scores: str, background: str) -> None:
    for key in ("tracks", "head", "window_length", "bin_size", "target_length"):
        a, b = meta.get(key), bg_meta.get(key)
        if a is not None and b is not None and (list(a) if key == "tracks" else a) != (list(b) if key == "tracks" else b):
            raise InputError(f"{background}: the background was not scored like {scores}: {key} differs ({b} vs {a})")


def calibrate(
    scores_path: str | os.PathLike[str],
    background_path: str | os.PathLike[str],
    names: Sequence[str] = ("SAD",),
) -> tuple[pd.DataFrame, dict[str, npt.NDArray[np.float64]], list[str], int]:
    """Quantiles of every allele of ``scores_path`` against ``background_path`` (both variant score HDF5).

    Returns the allele table, ``{score name: (N, T) quantiles}``, the track ids and the background size.
    """
    alleles, scores, meta = _read_scores(scores_path, names)
    bg_alleles, bg_scores, bg_meta = _read_scores(background_path, names)
    _check_same_scoring(meta, bg_meta, str(scores_path), str(background_path))
    if len(bg_alleles) == 0:
        raise InputError(f"{background_path}: the background score file holds no scored allele")
    quantiles = {n: signed_quantiles(scores[n], bg_scores[n]) for n in names}
    return alleles, quantiles, list(meta["tracks"]), len(bg_alleles)


def write_quantiles(
    prefix: str | os.PathLike[str],
    alleles: pd.DataFrame,
    quantiles: Mapping[str, npt.NDArray[np.float64]],
    tracks: Sequence[str],
    attrs: Mapping[str, object],
) -> dict[str, Path]:
    """``P.quantiles.tsv.gz`` and ``P.quantiles.h5`` (module docstring)."""
    import h5py

    paths = {"tsv": Path(f"{prefix}.quantiles.tsv.gz"), "h5": Path(f"{prefix}.quantiles.h5")}
    frame = alleles[["chrom", "pos", "id", "ref", "alt"]].copy()
    for name, q in quantiles.items():
        for t, track in enumerate(tracks):
            frame[f"Q_{name}:{track}"] = q[:, t]
    with atomic_output(paths["tsv"]) as tmp:
        with gzip.open(tmp, "wt") as handle:
            frame.to_csv(handle, sep="\t", index=False, float_format="%.6g", na_rep="NA")
    text = h5py.string_dtype()
    with atomic_output(paths["h5"]) as tmp:
        with h5_output(tmp) as h5:
            group = h5.create_group("alleles")
            for column in _ALLELE_COLUMNS:
                data = alleles[column].to_numpy()
                group.create_dataset(column, data=data.astype(object) if data.dtype == object else data,
                                     dtype=text if data.dtype == object else None)
            qgroup = h5.create_group("quantiles")
            for name, q in quantiles.items():
                qgroup.create_dataset(name, data=q.astype(np.float32))
            h5.attrs["tracks"] = ",".join(tracks)
            for key, value in attrs.items():
                h5.attrs[key] = value
    return paths


def annotate_vcf(
    vcf: str | os.PathLike[str],
    out: str | os.PathLike[str],
    alleles: pd.DataFrame,
    quantiles: Mapping[str, npt.NDArray[np.float64]],
    tracks: Sequence[str],
    background: str,
) -> int:
    """Copy ``vcf`` to ``out`` (bgzipped + tabix) with INFO ``EL_Q_<SCORE>``/``EL_Q_<SCORE>_TRACK`` per ALT.

    Alleles are matched by ``record`` (0-based record index) and ``alt_index``; a flipped allele's
    quantile changes sign (VCF orientation). Returns the number of records annotated.
    """
    import cyvcf2
    import pysam

    best: dict[str, dict[tuple[int, int], tuple[float, str]]] = {}
    for name, q in quantiles.items():
        table: dict[tuple[int, int], tuple[float, str]] = {}
        filled = np.where(np.isfinite(q), np.abs(q), -1.0)
        top = filled.argmax(axis=1) if q.size else np.zeros(len(alleles), dtype=int)
        for i, (record, alt_index, flipped) in enumerate(alleles[["record", "alt_index", "flipped"]].itertuples(index=False)):
            value = q[i, top[i]] if q.size else np.nan
            if np.isfinite(value):
                table[(int(record), int(alt_index))] = (-value if flipped else value, tracks[top[i]])
        best[name] = table
    final = Path(out)
    try:
        reader = cyvcf2.VCF(str(vcf))
    except (OSError, IOError) as err:
        raise InputError(f"{vcf}: cannot read VCF: {err}") from err
    reader.add_to_header(f"##EL_Q_BACKGROUND={background}")
    for name in quantiles:
        reader.add_info_to_header({"ID": f"EL_Q_{name}", "Number": "A", "Type": "Float",
                                   "Description": f"enformer-lite: signed quantile in [-1,1] of {name} against the background "
                                                  "(track with the largest |quantile|)"})
        reader.add_info_to_header({"ID": f"EL_Q_{name}_TRACK", "Number": "A", "Type": "String",
                                   "Description": f"enformer-lite: track of EL_Q_{name}"})
    annotated = 0
    with atomic_output(final) as tmp:
        try:
            writer = cyvcf2.Writer(str(tmp), reader, mode="wz")
            for index, variant in enumerate(reader):
                n_alt = len(variant.ALT)
                hit = False
                for name, table in best.items():
                    values, names = ["."] * n_alt, ["."] * n_alt
                    for k in range(n_alt):
                        if (index, k) in table:
                            value, track = table[(index, k)]
                            values[k], names[k] = f"{value:.4g}", track
                    if any(v != "." for v in values):
                        variant.INFO[f"EL_Q_{name}"] = ",".join(values)
                        variant.INFO[f"EL_Q_{name}_TRACK"] = ",".join(names)
                        hit = True
                annotated += hit
                writer.write_record(variant)
            writer.close()
        finally:
            reader.close()
        tbi = Path(f"{tmp}.tbi")
        try:
            pysam.tabix_index(str(tmp), preset="vcf", force=True, index=str(tbi))
        except (OSError, ValueError) as err:
            raise InputError(f"{vcf}: cannot index the annotated copy (is it sorted by position?): {err}") from err
    tbi.replace(f"{final}.tbi")
    return annotated


def calibrate_files(
    scores_path: str | os.PathLike[str],
    background_path: str | os.PathLike[str],
    prefix: str | os.PathLike[str],
    names: Sequence[str] = ("SAD",),
    vcf: str | os.PathLike[str] | None = None,
    background_source: str = "",
) -> dict[str, Path]:
    """Quantile table (TSV.gz + HDF5) and, with ``vcf``, the annotated VCF copy ``P.vcf.gz``."""
    alleles, quantiles, tracks, n_bg = calibrate(scores_path, background_path, names)
    source = background_source or str(background_path)
    attrs = {"background_size": n_bg, "background_source": source, "scores_file": str(scores_path),
             "background_file": str(background_path)}
    paths = write_quantiles(prefix, alleles, quantiles, tracks, attrs)
    if vcf is not None:
        paths["vcf"] = Path(f"{prefix}.vcf.gz")
        n = annotate_vcf(vcf, paths["vcf"], alleles, quantiles, tracks, f"{source} ({n_bg} alleles)")
        log.info("annotated %d VCF records in %s", n, paths["vcf"])
    log.info("calibrated %d alleles against %d background alleles (%s)", len(alleles), n_bg, source)
    return paths
