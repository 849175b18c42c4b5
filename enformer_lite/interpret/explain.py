"""One explanation per scored variant: ``explain.tsv``.

Columns: ``variant, chrom, pos, ref, alt`` (as scored, reference first), ``motif_effect``
(``disrupted``, ``created`` or ``none``: :func:`~enformer_lite.interpret.pwm.call_change`),
``motif``, ``motif_id``, ``ref_bits``, ``alt_bits``, ``delta_bits`` (best PWM score over the
windows touching the allele), ``seqlet_pattern`` / ``seqlet_match`` (TF-MoDISco seqlets the
variant falls in and their best TOMTOM match with q below the threshold, ``.`` if none),
``element`` (candidate elements the REF touches), ``top_genes`` (``gene:delta`` of the genes
whose TSS signal, summed over the gene tracks, changes most); when the score file is calibrated
(``/quantiles``), ``Q_<SCORE>`` and ``Q_<SCORE>_track`` per calibrated score: the signed quantile
against the background of the track with the largest |quantile|, and that track; and with a truth
table ``true_instance`` (planted TF instance(s) the variant touches, ``.`` for none).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.interpret.config import ExplainConfig
from enformer_lite.interpret.pwm import PwmSet, call_change, variant_changes
from enformer_lite.interpret.truth import variant_instances

EXPLAIN_COLUMNS = ["variant", "chrom", "pos", "ref", "alt", "motif_effect", "motif", "motif_id", "ref_bits", "alt_bits",
                   "delta_bits", "seqlet_pattern", "seqlet_match", "element", "top_genes"]


def read_scored(path: str | os.PathLike[str], top_genes: int) -> pd.DataFrame:
    """Scored alleles of a variant score file (chrom, pos, id, ref, alt) with ``top_genes``
    (``gene:delta;...`` by |delta summed over gene tracks|, ``.`` when none) and, for a calibrated
    file, ``Q_<SCORE>`` / ``Q_<SCORE>_track`` (the track of largest |quantile|)."""
    from enformer_lite.variants.outputs import largest_by_magnitude
    from enformer_lite.variants.store import file_tracks, open_scores, read_table

    with open_scores(path) as handle:
        alleles = read_table(handle["alleles"], columns=["chrom", "pos", "id", "ref", "alt"])
        genes = read_table(handle["genes"], columns=["allele", "gene_id"])
        delta = handle["gene_scores/delta"][:]
        quantiles = {name: handle[f"quantiles/{name}"][:] for name in handle.get("quantiles", {})}
        tracks = np.array([t.id for t in file_tracks(handle)], dtype=object)
    unflipped = np.zeros(len(alleles), dtype=bool)  # the table is in the scored orientation
    for name, values in quantiles.items():
        value, track = largest_by_magnitude(values, tracks, unflipped, skip_nan=True)
        alleles[f"Q_{name}"] = value
        alleles[f"Q_{name}_track"] = np.where(np.isnan(value), ".", track)
    text = ["."] * len(alleles)
    if len(genes) and top_genes:
        # NaN: a stranded track of the other strand (no score), so NaN-sums
        genes["delta"] = np.nansum(delta.astype(np.float64), axis=1) if delta.size else 0.0
        genes["size"] = genes["delta"].abs()
        ranked = genes.sort_values(["allele", "size"], ascending=[True, False], kind="stable")
        for allele, part in ranked.groupby("allele", sort=False):
            text[int(allele)] = ";".join(f"{g}:{d:.4g}" for g, d in zip(part["gene_id"][:top_genes], part["delta"][:top_genes]))
    alleles["top_genes"] = text
    return alleles


def _interval_names(chroms: pd.Series, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], table: pd.DataFrame,
                    name: str) -> list[str]:
    """For each [start, end) the ``name`` values of the rows of ``table`` (chrom, start, end) it overlaps."""
    out = []
    by_chrom = {c: g for c, g in table.groupby("chrom")} if len(table) else {}
    for chrom, s, e in zip(chroms, starts, ends):
        part = by_chrom.get(chrom)
        hit = [] if part is None else list(dict.fromkeys(part[(part["start"] < e) & (part["end"] > s)][name]))
        out.append(",".join(map(str, hit)) if hit else ".")
    return out


def explain_variants(
    scored: pd.DataFrame,
    fetch: Callable[[str, int, int], npt.NDArray[np.uint8]],
    pwms: PwmSet,
    cfg: ExplainConfig,
    elements: pd.DataFrame | None = None,
    seqlets: pd.DataFrame | None = None,
    matches: pd.DataFrame | None = None,
    instances: pd.DataFrame | None = None,
    q_threshold: float = 0.05,
) -> pd.DataFrame:
    """The explanation table (module docstring) for ``scored`` (chrom, pos, id, ref, alt, top_genes)."""
    flank = pwms.max_length - 1
    rows = []
    for r in scored.itertuples(index=False):
        start = int(r.pos) - 1
        left = fetch(r.chrom, start - flank, start)
        right = fetch(r.chrom, start + len(r.ref), start + len(r.ref) + flank)
        effect, change = call_change(variant_changes(pwms, left, r.ref, r.alt, right), cfg.min_delta_bits)
        motif = change.motif if change is not None else None
        rows.append({
            "variant": r.id if r.id not in ("", ".") else f"{r.chrom}:{r.pos}:{r.ref}>{r.alt}",
            "chrom": r.chrom, "pos": int(r.pos), "ref": r.ref, "alt": r.alt, "motif_effect": effect,
            "motif": motif.name if motif else ".", "motif_id": motif.matrix_id if motif else ".",
            "ref_bits": change.ref_bits if change else np.nan, "alt_bits": change.alt_bits if change else np.nan,
            "delta_bits": change.delta_bits if change else np.nan, "top_genes": r.top_genes,
        })
    table = pd.DataFrame(rows, columns=[c for c in EXPLAIN_COLUMNS if c not in ("seqlet_pattern", "seqlet_match", "element")])
    starts = table["pos"].to_numpy(dtype=np.int64) - 1
    ends = starts + np.maximum(1, table["ref"].str.len().to_numpy())
    table["element"] = _interval_names(table["chrom"], starts, ends, elements, "element") if elements is not None \
        else ["."] * len(table)
    best: dict[str, str] = {}
    if matches is not None and len(matches):
        top = matches[(matches["rank"] == 1) & (matches["q_value"] < q_threshold)]
        best = dict(zip(top["pattern"], top["target_name"]))
    if seqlets is not None and len(seqlets):
        patterns = _interval_names(table["chrom"], starts, ends, seqlets, "name")
    else:
        patterns = ["."] * len(table)
    table["seqlet_pattern"] = patterns
    table["seqlet_match"] = [",".join(best.get(p, "?") for p in ps.split(",")) if ps != "." else "." for ps in patterns]
    calibrated = [c for c in scored.columns if c.startswith("Q_")]
    for column in calibrated:
        table[column] = scored[column].to_numpy()
    if instances is not None:
        table["true_instance"] = variant_instances(table, instances)
    return table[EXPLAIN_COLUMNS + calibrated + (["true_instance"] if instances is not None else [])]
