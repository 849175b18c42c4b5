"""Motif discovery: TF-MoDISco (modisco-lite) on attributions, TOMTOM (memelite) against JASPAR.

Outputs (see :func:`write_motif_outputs`):

* ``motifs.meme``: every discovered pattern's PPM (trimmed to the columns holding at least
  ``trim_threshold`` of the peak |CWM|) in MEME format, named ``pos_pattern_0``, ``neg_pattern_1``, ...;
* ``matches.tsv``: pattern, n_seqlets, rank, target_id, target_name, p_value, q_value, offset,
  overlap, strand — every pattern against every JASPAR matrix, q-values by Benjamini–Hochberg
  over all pairs;
* ``seqlets.bed``: BED6 of every seqlet (genome coordinates, name = pattern, strand from the
  seqlet's orientation).

With the 15 matrices the simulator ships, TOMTOM's p-values use a small target background
(memelite warns below 25 targets); the q-value threshold is the guard against chance matches.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.interpret.attribution import Attributions
from enformer_lite.interpret.config import MotifConfig
from enformer_lite.simulate.motifs import Motif

log = logging.getLogger(__name__)

MATCH_COLUMNS = ["pattern", "n_seqlets", "rank", "target_id", "target_name", "p_value", "q_value", "offset", "overlap",
                 "strand"]
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]


@dataclass(frozen=True)
class Pattern:
    """One discovered motif.

    Attributes:
        name: ``pos_pattern_<i>`` or ``neg_pattern_<i>``.
        ppm: (W, 4) position probability matrix (trimmed).
        cwm: (W, 4) contribution weight matrix (trimmed).
        seqlets: (example index, start, end, is_revcomp) per seqlet, in the untrimmed pattern's coordinates.
    """

    name: str
    ppm: npt.NDArray[np.float64]
    cwm: npt.NDArray[np.float64]
    seqlets: tuple[tuple[int, int, int, bool], ...]


def _trim(ppm: np.ndarray, cwm: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= threshold * score.max()) if score.max() > 0 else np.arange(len(score))
    return ppm[keep.min() : keep.max() + 1], cwm[keep.min() : keep.max() + 1]


def discover(attr: Attributions, cfg: MotifConfig) -> list[Pattern]:
    """Run TF-MoDISco on ``attr``; an empty list when it finds no metacluster large enough."""
    from modiscolite.tfmodisco import TFMoDISco

    if len(attr.sequences) == 0:
        return []
    pos, neg = TFMoDISco(
        one_hot=attr.one_hot.astype(np.float32),
        hypothetical_contribs=attr.hypothetical.astype(np.float32),
        sliding_window_size=cfg.window_size,
        flank_size=cfg.flank_size,
        target_seqlet_fdr=cfg.target_seqlet_fdr,
        min_metacluster_size=cfg.min_metacluster_size,
        max_seqlets_per_metacluster=cfg.max_seqlets,
        n_leiden_runs=cfg.n_leiden_runs,
        final_min_cluster_size=cfg.final_min_cluster_size,
        trim_to_window_size=max(cfg.window_size, 2 * cfg.flank_size + 1),
        initial_flank_to_add=cfg.flank_size,
        verbose=False,
    )
    out = []
    for prefix, patterns in (("pos", pos), ("neg", neg)):
        for i, p in enumerate(patterns or []):
            ppm, cwm = _trim(np.asarray(p.sequence, dtype=np.float64), np.asarray(p.contrib_scores, dtype=np.float64),
                             cfg.trim_threshold)
            seqlets = tuple((int(s.example_idx), int(s.start), int(s.end), bool(s.is_revcomp)) for s in p.seqlets)
            out.append(Pattern(f"{prefix}_pattern_{i}", ppm, cwm, seqlets))
    log.info("TF-MoDISco: %d patterns from %d sequences", len(out), len(attr.sequences))
    return out


def benjamini_hochberg(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Benjamini–Hochberg q-values of a flat array of p-values (NaN kept)."""
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    values = p[finite]
    if values.size:
        order = np.argsort(values)
        ranked = values[order] * values.size / np.arange(1, values.size + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty_like(values)
        out[order] = np.minimum(ranked, 1.0)
        q[finite] = out
    return q


def match_patterns(patterns: Sequence[Pattern], motifs: Sequence[Motif]) -> pd.DataFrame:
    """TOMTOM of every pattern's PPM against every motif: one row per pair (:data:`MATCH_COLUMNS`),
    sorted by pattern then p-value, ``rank`` 1 for each pattern's best match."""
    if not patterns:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    from memelite import tomtom

    queries = [np.ascontiguousarray(p.ppm.T) for p in patterns]
    targets = [np.ascontiguousarray(m.probabilities().T) for m in motifs]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="tomtom was given")
        p_values, _, offsets, overlaps, strands = tomtom(queries, targets)
    q_values = benjamini_hochberg(p_values.ravel()).reshape(p_values.shape)
    rows = []
    for i, pattern in enumerate(patterns):
        for j, motif in enumerate(motifs):
            rows.append((pattern.name, len(pattern.seqlets), 0, motif.matrix_id, motif.name, float(p_values[i, j]),
                         float(q_values[i, j]), int(offsets[i, j]), int(overlaps[i, j]), "-" if strands[i, j] else "+"))
    table = pd.DataFrame(rows, columns=MATCH_COLUMNS).sort_values(["pattern", "p_value"], kind="stable")
    table["rank"] = table.groupby("pattern").cumcount() + 1
    order = {p.name: k for k, p in enumerate(patterns)}
    return table.sort_values(["pattern", "rank"], key=lambda c: c.map(order) if c.name == "pattern" else c).reset_index(drop=True)


def seqlet_bed(patterns: Sequence[Pattern], attr: Attributions) -> pd.DataFrame:
    """Every seqlet in genome coordinates (:data:`BED_COLUMNS`), sorted by chrom order of appearance and start."""
    rows = []
    for pattern in patterns:
        for example, start, end, revcomp in pattern.seqlets:
            seq = attr.sequences[example]
            rows.append((seq.chrom, seq.start + max(0, start), seq.start + end, pattern.name, 0, "-" if revcomp else "+"))
    frame = pd.DataFrame(rows, columns=BED_COLUMNS)
    if frame.empty:
        return frame
    chroms = {c: k for k, c in enumerate(dict.fromkeys(s.chrom for s in attr.sequences))}
    return frame.sort_values(["chrom", "start"], key=lambda c: c.map(chroms) if c.name == "chrom" else c,
                             kind="stable").reset_index(drop=True)


def meme_text(patterns: Sequence[Pattern]) -> str:
    """The patterns' PPMs as a MEME (version 4) motif file."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "", "Background letter frequencies",
             "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for p in patterns:
        ppm = p.ppm / np.maximum(p.ppm.sum(axis=1, keepdims=True), 1e-12)
        lines += [f"MOTIF {p.name}", f"letter-probability matrix: alength= 4 w= {ppm.shape[0]} nsites= {len(p.seqlets)} E= 0"]
        lines += [" ".join(f"{v:.6f}" for v in row) for row in ppm] + [""]
    return "\n".join(lines) + "\n"


def write_motif_outputs(
    directory: str | os.PathLike[str], patterns: Sequence[Pattern], matches: pd.DataFrame, seqlets: pd.DataFrame
) -> dict[str, Path]:
    """``motifs.meme``, ``matches.tsv`` and ``seqlets.bed`` under ``directory``, each atomically."""
    out = Path(directory)
    paths = {"meme": out / "motifs.meme", "matches": out / "matches.tsv", "seqlets": out / "seqlets.bed"}
    with atomic_output(paths["meme"]) as tmp:
        tmp.write_text(meme_text(patterns))
    with atomic_output(paths["matches"]) as tmp:
        matches.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_output(paths["seqlets"]) as tmp:
        seqlets.to_csv(tmp, sep="\t", index=False, header=False)
    return paths


def write_pattern_logos(
    paths: Sequence[str | os.PathLike[str]], patterns: Sequence[Pattern], matches: pd.DataFrame, q_threshold: float,
    max_logos: int = 12,
) -> None:
    """CWM logos (logomaker) of the first ``max_logos`` patterns, titled with their best JASPAR match."""
    from enformer_lite.interpret.logos import logo_figure

    best = matches[matches["rank"] == 1].set_index("pattern") if len(matches) else pd.DataFrame()
    panels = []
    for p in list(patterns)[:max_logos]:
        title = f"{p.name} ({len(p.seqlets)} seqlets)"
        if p.name in best.index:
            row = best.loc[p.name]
            verdict = "match" if row["q_value"] < q_threshold else "no match"
            title += f": best {row['target_name']} ({row['target_id']}), q = {row['q_value']:.2g}, {verdict}"
        panels.append((pd.DataFrame(p.cwm, columns=list("ACGT")), title))
    logo_figure(paths, panels, 1.4, "TF-MoDISco found no pattern (too few seqlets)", lambda ax: ax.set_xticks([]))
