"""ISM regions from the user's files, and the ISM outputs: HDF5, per-base bigWig, logo figure.

HDF5 layout (R regions, N mutated positions in all, T tracks)::

    /regions/{name, kind, chrom, start, end, window_start, offset, length}   (R,)
    /positions/{region, chrom, pos, ref}                                       (N,)
    /effect      float32 (N, 4, T)   alt − ref readout per track (0 at the reference base, NaN at N)
    /reference   float32 (R, T)      reference readout per track

``offset``/``length`` give each region's rows of ``/positions`` and ``/effect``; ``pos`` is
0-based; ``ref`` the base code. Attributes: ``tracks`` (JSON tracks table), ``summary_tracks``
(JSON list of the track indices summed into the bigWig and logo), ``head``, ``readout_bins``
(JSON list of uncropped bins), ``window_length``, ``bin_size``, ``target_length``, ``checkpoint``.

The bigWig holds, per base, the mean effect of the 3 alternative bases on the summed
readout of ``summary_tracks`` (negative: the reference base supports the signal). Where
regions overlap, the first region's value is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyBigWig

from enformer_lite.atomic import atomic_output, h5_output, staged_bigwig
from enformer_lite.contributions.regions import select_genes
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.tracks import TrackSpec, tracks_to_json
from enformer_lite.errors import InputError
from enformer_lite.interpret.config import IsmConfig
from enformer_lite.interpret.ism import IsmRegion, IsmResult, centred, per_base_effect, summary_matrix

_REGION = re.compile(r"^([^:\s]+):(\d[\d,]*)-(\d[\d,]*)$")


def parse_region(text: str, sizes: Mapping[str, int], where: str = "interpret.ism.regions") -> IsmRegion:
    """``chrom:start-end`` (0-based, half-open) → an :class:`IsmRegion`; InputError naming ``where`` otherwise."""
    match = _REGION.match(text.strip())
    if not match:
        raise InputError(f"{where}: region {text!r} is not chrom:start-end")
    chrom, start, end = match.group(1), int(match.group(2).replace(",", "")), int(match.group(3).replace(",", ""))
    if chrom not in sizes:
        raise InputError(f"{where}: region {text!r}: chromosome {chrom} is not in the FASTA")
    if not 0 <= start < end <= sizes[chrom]:
        raise InputError(f"{where}: region {text!r} is empty or outside {chrom} (length {sizes[chrom]})")
    return IsmRegion(text.strip(), "region", chrom, start, end, (start + end) // 2)


def _capped(name: str, kind: str, chrom: str, start: int, end: int, cap: int, size: int) -> IsmRegion:
    """A region cut to at most ``cap`` bp around its centre and to the chromosome."""
    centre = (start + end) // 2
    if end - start > cap:
        start, end = centre - cap // 2, centre - cap // 2 + cap
    start, end = max(0, start), min(size, end)
    return IsmRegion(name, kind, chrom, start, end, centre)


def select_regions(
    cfg: IsmConfig,
    sizes: Mapping[str, int],
    genes: pd.DataFrame | None = None,
    elements: pd.DataFrame | None = None,
    variants: pd.DataFrame | None = None,
) -> list[IsmRegion]:
    """Regions of ``cfg``: gene TSSs ± flank, elements, ``chrom:start-end`` strings, top variants ± flank.

    ``genes`` has :data:`~enformer_lite.data.genes.GENE_COLUMNS`; ``elements`` chrom, start, end,
    element; ``variants`` chrom, pos (1-based), id, ref, alt, score (rows already the top ones).
    """
    out: list[IsmRegion] = []
    cap, flank = cfg.max_region_bp, cfg.flank
    if genes is not None and (cfg.genes or cfg.n_genes):
        for row in select_genes(genes, cfg.genes, (), 0 if cfg.genes else cfg.n_genes, "genes").itertuples():
            tss = int(row.tss)
            out.append(_capped(str(row.gene_id), "tss", row.chrom, tss - flank, tss + flank + 1, cap, sizes[row.chrom]))
    if cfg.elements:
        if elements is None:
            raise InputError("interpret.ism.elements: give the candidates BED (--candidates)")
        unknown = sorted(set(cfg.elements) - set(elements["element"]))
        if unknown:
            raise InputError(f"interpret.ism.elements: unknown element(s) {', '.join(unknown[:10])}")
        for row in elements[elements["element"].isin(cfg.elements)].itertuples():
            out.append(_capped(str(row.element), "element", row.chrom, int(row.start), int(row.end), cap, sizes[row.chrom]))
    out += [parse_region(text, sizes) for text in cfg.regions]
    if variants is not None:
        for row in variants.itertuples():
            start = int(row.pos) - 1
            name = str(row.id) if str(row.id) not in ("", ".") else f"{row.chrom}:{row.pos}:{row.ref}>{row.alt}"
            out.append(_capped(name, "variant", row.chrom, start - flank, start + len(str(row.ref)) + flank, cap,
                               sizes[row.chrom]))
    return out


def write_h5(
    path: str | os.PathLike[str],
    results: Sequence[IsmResult],
    tracks: Sequence[TrackSpec],
    summary_tracks: Sequence[int],
    attrs: Mapping[str, object],
) -> None:
    """The HDF5 file of the module docstring, atomically."""
    import h5py

    text = h5py.string_dtype()
    lengths = np.array([r.region.length for r in results], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(results) else lengths
    n_tracks = len(tracks)
    with atomic_output(path) as tmp:
        with h5_output(tmp) as h5:
            h5.attrs["tracks"] = tracks_to_json(list(tracks))
            h5.attrs["summary_tracks"] = json.dumps([int(i) for i in summary_tracks])
            for key, value in attrs.items():
                h5.attrs[key] = value
            reg = h5.create_group("regions")
            for name in ("name", "kind", "chrom"):
                reg.create_dataset(name, data=[getattr(r.region, name) for r in results], dtype=text)
            for name in ("start", "end"):
                reg.create_dataset(name, data=np.array([getattr(r.region, name) for r in results], dtype=np.int64))
            reg.create_dataset("window_start", data=np.array([r.window_start for r in results], dtype=np.int64))
            reg.create_dataset("offset", data=offsets)
            reg.create_dataset("length", data=lengths)
            pos = h5.create_group("positions")
            pos.create_dataset("region", data=np.repeat(np.arange(len(results)), lengths).astype(np.int64))
            pos.create_dataset("chrom", data=[r.region.chrom for r in results for _ in range(r.region.length)], dtype=text)
            pos.create_dataset("pos", data=np.concatenate(
                [np.arange(r.region.start, r.region.end) for r in results] or [np.zeros(0)]).astype(np.int64))
            pos.create_dataset("ref", data=np.concatenate([r.ref_codes for r in results] or [np.zeros(0)]).astype(np.uint8))
            effect = np.concatenate([r.effect for r in results]) if results else np.zeros((0, 4, n_tracks), np.float32)
            h5.create_dataset("effect", data=effect.astype(np.float32), compression="gzip", shuffle=True)
            reference = np.stack([r.reference for r in results]) if results else np.zeros((0, n_tracks))
            h5.create_dataset("reference", data=reference.astype(np.float32))


def read_h5(path: str | os.PathLike[str]) -> dict[str, object]:
    """The ISM file as plain arrays: ``regions`` (DataFrame), ``effect`` (N, 4, T), ``ref`` (N,), ``pos`` (N,),
    ``summary_tracks`` (list), ``tracks`` (list of ids). InputError names the file when it is not one."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            regions = pd.DataFrame({k: (h5["regions"][k].asstr()[:] if h5py.check_string_dtype(h5["regions"][k].dtype)
                                        else h5["regions"][k][:]) for k in h5["regions"]})
            out = {"regions": regions, "effect": h5["effect"][:], "ref": h5["positions/ref"][:],
                   "pos": h5["positions/pos"][:], "summary_tracks": json.loads(h5.attrs["summary_tracks"]),
                   "tracks": [t["id"] for t in json.loads(h5.attrs["tracks"])]}
    except (OSError, KeyError) as err:
        raise InputError(f"{path}: not an ISM file written by enformer-lite ism: {err}") from err
    return out


def write_bigwig(
    path: str | os.PathLike[str], results: Sequence[IsmResult], summary_tracks: npt.NDArray[np.intp], sizes: Mapping[str, int]
) -> int:
    """Per-base mean alternative-allele effect on the summed readout of ``summary_tracks``; returns bases written."""
    rows = []
    for r in results:
        values = per_base_effect(summary_matrix(r.effect, summary_tracks))
        keep = np.isfinite(values)
        rows.append(pd.DataFrame({"chrom": r.region.chrom, "pos": np.arange(r.region.start, r.region.end)[keep],
                                  "value": values[keep]}))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame({"chrom": [], "pos": [], "value": []})
    frame = frame.drop_duplicates(["chrom", "pos"], keep="first")
    order = {c: i for i, c in enumerate(sizes)}
    frame = frame.assign(_o=frame["chrom"].map(order)).sort_values(["_o", "pos"], kind="stable")
    with atomic_output(path) as tmp, staged_bigwig(tmp) as name:
        bw = pyBigWig.open(name, "w")
        try:
            bw.addHeader([(c, int(s)) for c, s in sizes.items()])
            for chrom, part in frame.groupby("_o", sort=True):
                bw.addEntries(str(part["chrom"].iloc[0]), part["pos"].to_numpy(dtype=np.int64).tolist(),
                              values=part["value"].to_numpy(dtype=np.float64).tolist(), span=1)
        finally:
            bw.close()
    return len(frame)


def write_logo(
    paths: Sequence[str | os.PathLike[str]], results: Sequence[IsmResult], summary_tracks: npt.NDArray[np.intp], max_logos: int
) -> None:
    """One logo panel per region (the first ``max_logos``): mean-centred ISM of the summed readout
    (logomaker), letter height = how much that base raises the signal relative to the others."""
    from enformer_lite.interpret.logos import logo_figure

    panels = []
    for r in list(results)[:max_logos]:
        frame = pd.DataFrame(np.nan_to_num(centred(summary_matrix(r.effect, summary_tracks))), columns=list("ACGT"))
        frame.index = np.arange(r.region.start, r.region.end)
        panels.append((frame, f"{r.region.name} ({r.region.kind}) {r.region.chrom}:{r.region.start:,}-{r.region.end:,}"))

    def style(ax) -> None:
        ax.axhline(0, color="#888888", lw=0.5)
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        ax.set_ylabel("ISM effect\n(centred)", fontsize=7)

    logo_figure(paths, panels, 1.8, "no ISM regions were configured", style)


def summary_track_indices(tracks: Sequence[TrackSpec], ids: Sequence[str], where: str) -> npt.NDArray[np.intp]:
    """Indices of the tracks named by ``ids`` (all tracks when empty); InputError names unknown ids."""
    if not ids:
        return np.arange(len(tracks), dtype=np.intp)
    index = {t.id: i for i, t in enumerate(tracks)}
    unknown = [i for i in ids if i not in index]
    if unknown:
        raise InputError(f"config {where}: unknown track(s) {', '.join(unknown)}; the head has {', '.join(index)}")
    return np.array([index[i] for i in ids], dtype=np.intp)


def geometry_attrs(geometry: WindowGeometry, readout_bins: npt.NDArray[np.int64]) -> dict[str, object]:
    """HDF5 attributes describing the window geometry and the readout bins."""
    return {**geometry.to_dict(), "readout_bins": json.dumps([int(b) for b in readout_bins])}
