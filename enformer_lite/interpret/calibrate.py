"""Calibrated variant scores: signed quantiles against a background set scored the same way.

For a score ``s`` of one track, the quantile is ``q = sign(s) · F(|s|)`` where ``F`` is the
empirical distribution of |score| over the background alleles of that track (mid-ranks for
ties), so ``q`` lies in [−1, 1]: ±0.99 means larger in magnitude than 99 % of ordinary variants,
in the direction of the sign. This follows AlphaGenome's quantile scores of signed scorers.

The background is either a user VCF of common variants (e.g. gnomAD, scored with
``score-variants``) or, by default, SNPs drawn from the genome's windows with a fixed seed
(:func:`~enformer_lite.interpret.background.sample_background`). It must be scored like the
variants (same tracks, head and window geometry; :meth:`Background.check`). Its |scores| are
loaded once, sorted per track (:class:`Background`); the variants are then calibrated block by
block as ``gather-variants --background`` writes them, into the main variant outputs
(:mod:`enformer_lite.variants.outputs`):

* the score file ``P.h5`` gets ``/quantiles/<SCORE>`` float32 (N, T) with group attributes
  ``scores`` (JSON list), ``background_size``, ``background_source`` and ``background_file``;
* ``P.tsv.gz`` gets ``Q_<SCORE>:<track>`` columns after the score columns;
* ``P.vcf.gz`` gets INFO ``EL_Q_<SCORE>`` (per ALT: the quantile of the track with the largest
  |quantile|, in the VCF's REF → ALT orientation), ``EL_Q_<SCORE>_TRACK`` and a
  ``##EL_Q_BACKGROUND=`` header line with the background's size, source and file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import h5py
import numpy as np
import numpy.typing as npt

from enformer_lite.errors import InputError

GEOMETRY_ATTRS = ("head", "window_length", "bin_size", "target_length")
"""Score-file attributes a background must share with the variants it calibrates (besides the tracks)."""


def sorted_magnitudes(background: npt.NDArray[np.floating]) -> list[npt.NDArray[np.float64]]:
    """Per column of a (M, T) background: its finite |values|, sorted (what :func:`quantiles_against` needs)."""
    background = np.atleast_2d(np.asarray(background, dtype=np.float64))
    return [np.sort(np.abs(column[np.isfinite(column)])) for column in background.T]


def quantiles_against(values: npt.NDArray[np.floating], magnitudes: Sequence[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """``sign(v) · F(|v|)`` column by column against :func:`sorted_magnitudes` of a background (see
    :func:`signed_quantiles`)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if values.shape[1] != len(magnitudes):
        raise InputError(f"scores have {values.shape[1]} tracks but the background has {len(magnitudes)}")
    out = np.full(values.shape, np.nan)
    for t, bg in enumerate(magnitudes):
        if bg.size == 0:
            continue
        mag = np.abs(values[:, t])
        finite = np.isfinite(mag)
        below = np.searchsorted(bg, mag[finite], side="left")
        upto = np.searchsorted(bg, mag[finite], side="right")
        out[finite, t] = np.sign(values[finite, t]) * (below + 0.5 * (upto - below)) / bg.size
    return out


def signed_quantiles(values: npt.NDArray[np.floating], background: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """``sign(v) · F(|v|)`` column by column: values (N, T), background (M, T) → (N, T) in [−1, 1].

    ``F(x) = (#{|b| < x} + ½ #{|b| = x}) / M`` over the finite background values of the column;
    NaN where the value is NaN or the column has no finite background value.
    """
    return quantiles_against(values, sorted_magnitudes(background))


def scoring_meta(handle: h5py.File) -> dict[str, object]:
    """How a score file was scored: its track ids and :data:`GEOMETRY_ATTRS` (those present)."""
    from enformer_lite.variants.store import file_tracks

    return {"tracks": [t.id for t in file_tracks(handle)],
            **{k: handle.attrs[k] for k in GEOMETRY_ATTRS if k in handle.attrs}}


def _check_same_scoring(meta: Mapping, bg_meta: Mapping, scores: str, background: str) -> None:
    for key in ("tracks", *GEOMETRY_ATTRS):
        a, b = meta.get(key), bg_meta.get(key)
        if a is not None and b is not None and (list(a) if key == "tracks" else a) != (list(b) if key == "tracks" else b):
            raise InputError(f"{background}: the background was not scored like {scores}: {key} differs ({b} vs {a})")


@dataclass(frozen=True)
class Background:
    """A background score file loaded for calibration: per score name, its sorted |scores| per track.

    Build it with :meth:`load`; memory is the background's own scores (M × T per score name).
    """

    path: str
    source: str
    size: int
    meta: Mapping[str, object]
    magnitudes: Mapping[str, list[npt.NDArray[np.float64]]]

    @classmethod
    def load(cls, path: str | os.PathLike[str], names: Sequence[str] = ("SAD",), source: str = "") -> Background:
        """Read ``path`` (a variant score HDF5, a part or gathered file) for the score ``names``.

        ``source`` says how the background was made (default: the file's name). InputError when the
        file is no score file, lacks a score or holds no scored allele.
        """
        from enformer_lite.variants.store import open_scores

        if not names:
            raise InputError("calibration: name at least one score")
        with open_scores(path) as handle:
            missing = [n for n in names if f"scores/{n}" not in handle]
            if missing:
                raise InputError(f"{path}: variant score file lacks scores {', '.join(missing)}")
            size = int(handle["alleles/record"].shape[0])
            if size == 0:
                raise InputError(f"{path}: the background score file holds no scored allele")
            magnitudes = {n: sorted_magnitudes(handle[f"scores/{n}"][:]) for n in names}
            meta = scoring_meta(handle)
        return cls(str(path), source or os.path.basename(str(path)), size, meta, magnitudes)

    @property
    def names(self) -> list[str]:
        return list(self.magnitudes)

    def check(self, meta: Mapping[str, object], scores: str | os.PathLike[str]) -> None:
        """InputError naming both files when the variants of ``scores`` (its :func:`scoring_meta`)
        were scored otherwise than the background."""
        _check_same_scoring(meta, self.meta, str(scores), self.path)

    def quantiles(self, name: str, values: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Signed quantiles (N, T) of scores ``values`` (N, T) of score ``name``."""
        return quantiles_against(values, self.magnitudes[name])

    @property
    def attrs(self) -> dict[str, object]:
        """Attributes of the ``/quantiles`` group of a calibrated score file."""
        return {"scores": json.dumps(self.names), "background_size": self.size,
                "background_source": self.source, "background_file": self.path}


class QuantileWriter:
    """Appends the quantiles of blocks of scores to ``/quantiles/<SCORE>`` of an open, writable score file."""

    def __init__(self, h5: h5py.File, background: Background, n_tracks: int) -> None:
        self.background, self.group = background, h5.create_group("quantiles")
        for key, value in background.attrs.items():
            self.group.attrs[key] = value
        for name in background.names:
            if n_tracks == 0:  # as ScoreWriter: HDF5 cannot chunk a zero-width dataset
                self.group.create_dataset(name, shape=(0, 0), dtype=np.float32)
            else:
                self.group.create_dataset(name, shape=(0, n_tracks), maxshape=(None, n_tracks), dtype=np.float32,
                                          chunks=(max(1, min(1024, 2**20 // n_tracks)), n_tracks))

    def add(self, scores: Mapping[str, npt.NDArray[np.floating]]) -> None:
        """Quantiles of one block: ``scores`` maps every background score name to its (n, T) values."""
        for name in self.background.names:
            q = self.background.quantiles(name, scores[name]).astype(np.float32)
            if q.size == 0:
                continue
            dataset = self.group[name]
            n = dataset.shape[0]
            dataset.resize(n + q.shape[0], axis=0)
            dataset[n:] = q


def quantile_names(handle: h5py.File) -> list[str]:
    """The calibrated score names of a score file (empty when it has no ``/quantiles``)."""
    return json.loads(handle["quantiles"].attrs["scores"]) if "quantiles" in handle else []
