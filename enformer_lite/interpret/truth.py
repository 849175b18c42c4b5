"""The simulator's planted motif instances, and how discovered motifs and variant calls compare with them.

Planted instances come from the truth table ``elements.tsv`` (column ``sites``: ``TF:start:strand``,
``;``-separated; the instance spans the TF's JASPAR matrix length) — the same content as
``truth/motifs.tsv`` of newer simulated worlds, which is read directly when given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from enformer_lite.errors import InputError
from enformer_lite.simulate.motifs import Motif

INSTANCE_COLUMNS = ["motif", "chrom", "start", "end", "strand", "element"]


def read_instances(path: str | os.PathLike[str], motifs: Sequence[Motif]) -> pd.DataFrame:
    """Planted instances (:data:`INSTANCE_COLUMNS`) from ``motifs.tsv`` or ``elements.tsv``; InputError names a bad record."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: truth table not found")
    table = pd.read_csv(file, sep="\t", dtype=str, keep_default_na=False)
    if set(INSTANCE_COLUMNS) <= set(table.columns):
        out = table[INSTANCE_COLUMNS].copy()
        out[["start", "end"]] = out[["start", "end"]].astype(np.int64)
        return out
    if not {"element", "chrom", "sites"} <= set(table.columns):
        raise InputError(f"{file}: neither a motifs.tsv ({', '.join(INSTANCE_COLUMNS)}) nor an elements.tsv (element, chrom, sites)")
    lengths = {m.name: m.length for m in motifs}
    rows = []
    for lineno, row in enumerate(table.itertuples(index=False), start=2):
        for site in filter(None, str(row.sites).split(";")):
            parts = site.rsplit(":", 2)  # TF names may hold "::" (FOS::JUN)
            if len(parts) != 3 or parts[0] not in lengths or parts[2] not in "+-" or not parts[1].isdigit():
                raise InputError(f"{file}:{lineno}: element {row.element}: bad site {site!r} (expected TF:start:strand "
                                 "with a TF of the JASPAR file)")
            tf, start, strand = parts[0], int(parts[1]), parts[2]
            rows.append((tf, row.chrom, start, start + lengths[tf], strand, row.element))
    return pd.DataFrame(rows, columns=INSTANCE_COLUMNS)


def _overlaps(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """(len(a),) bool: whether each interval of ``a`` overlaps any interval of ``b`` on the same chrom."""
    out = np.zeros(len(a), dtype=bool)
    for chrom, idx in a.groupby("chrom").groups.items():
        other = b[b["chrom"] == chrom].sort_values("start")
        if other.empty:
            continue
        starts, ends = other["start"].to_numpy(), np.maximum.accumulate(other["end"].to_numpy())
        part = a.loc[idx]
        before = np.searchsorted(starts, part["end"].to_numpy(), side="left")  # intervals starting before a's end
        hit = (before > 0) & (ends[np.maximum(before - 1, 0)] > part["start"].to_numpy())
        out[a.index.get_indexer(idx)] = hit
    return out


def motif_evaluation(
    matches: pd.DataFrame, seqlets: pd.DataFrame, instances: pd.DataFrame, scanned: pd.DataFrame, q_threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recall, precision and seqlet–instance overlap of the discovered motifs.

    Args:
        matches: TOMTOM table (pattern, target_name, q_value, ...).
        seqlets: seqlet BED (chrom, start, end, name, ...).
        instances: planted instances (:data:`INSTANCE_COLUMNS`).
        scanned: the sequences given to TF-MoDISco (chrom, start, end).
        q_threshold: a pattern matches a motif when q < this.

    Returns:
        metrics: one row per metric (metric, value) — planted types, recovered types, recall, patterns,
            spurious patterns, precision, seqlets in instances, instances hit by a seqlet.
        per_motif: one row per planted TF: instances (all, in scanned sequences), recovered, best q, patterns.
    """
    planted = sorted(instances["motif"].unique())
    good = matches[matches["q_value"] < q_threshold] if len(matches) else matches
    patterns = sorted(matches["pattern"].unique()) if len(matches) else []
    matched_patterns = set(good[good["target_name"].isin(planted)]["pattern"]) if len(good) else set()
    recovered = sorted(set(good["target_name"]) & set(planted)) if len(good) else []
    inside = instances[_overlaps(instances.reset_index(drop=True), scanned)] if len(scanned) else instances.iloc[:0]
    seq_in = _overlaps(seqlets.reset_index(drop=True), instances) if len(seqlets) else np.zeros(0, bool)
    inst_hit = _overlaps(inside.reset_index(drop=True), seqlets) if len(seqlets) and len(inside) else np.zeros(len(inside), bool)
    n_pat = len(patterns)
    metrics = pd.DataFrame(
        [
            ("planted_motif_types", len(planted)),
            ("recovered_motif_types", len(recovered)),
            ("recall", len(recovered) / len(planted) if planted else np.nan),
            ("patterns", n_pat),
            ("spurious_patterns", n_pat - len(matched_patterns)),
            ("precision", len(matched_patterns) / n_pat if n_pat else np.nan),
            ("seqlets", len(seqlets)),
            ("seqlets_in_planted_instances", float(seq_in.mean()) if len(seq_in) else np.nan),
            ("instances_in_scanned_sequences", len(inside)),
            ("instances_hit_by_a_seqlet", float(inst_hit.mean()) if len(inst_hit) else np.nan),
        ],
        columns=["metric", "value"],
    )
    rows = []
    for tf in planted:
        best = matches[matches["target_name"] == tf]["q_value"].min() if len(matches) else np.nan
        pats = sorted(good[good["target_name"] == tf]["pattern"]) if len(good) else []
        rows.append((tf, int((instances["motif"] == tf).sum()), int((inside["motif"] == tf).sum()), tf in recovered, best,
                     ",".join(pats)))
    per_motif = pd.DataFrame(rows, columns=["motif", "instances", "instances_scanned", "recovered", "best_q", "patterns"])
    return metrics, per_motif


def variant_instances(variants: pd.DataFrame, instances: pd.DataFrame) -> list[str]:
    """For each variant (chrom, pos 1-based, ref), the planted instance(s) its REF span touches as
    ``TF`` names joined by ``,`` (``.`` for none)."""
    out = []
    by_chrom: Mapping[str, pd.DataFrame] = {c: g for c, g in instances.groupby("chrom")}
    for row in variants.itertuples(index=False):
        start = int(row.pos) - 1
        end = start + max(1, len(str(row.ref)))
        part = by_chrom.get(row.chrom)
        hit = [] if part is None else sorted(set(part[(part["start"] < end) & (part["end"] > start)]["motif"]))
        out.append(",".join(hit) if hit else ".")
    return out


def explanation_accuracy(explain: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of the PWM calls of ``explain.tsv`` (columns motif_effect, motif, true_instance).

    Variants whose REF touches a planted instance should be called ``disrupted`` with that TF;
    the others should get no call (or a ``created`` one, counted separately).
    """
    hits = explain[explain["true_instance"] != "."]
    other = explain[explain["true_instance"] == "."]
    correct = [(r.motif_effect == "disrupted") and (r.motif in r.true_instance.split(",")) for r in hits.itertuples()]
    any_tf = [r.motif in r.true_instance.split(",") for r in hits.itertuples()]
    rows = [
        ("variants", len(explain)),
        ("in_planted_instance", len(hits)),
        ("disrupted_call_names_the_instance_tf", float(np.mean(correct)) if correct else np.nan),
        ("any_call_names_the_instance_tf", float(np.mean(any_tf)) if any_tf else np.nan),
        ("outside_instances", len(other)),
        ("outside_no_call", float((other["motif_effect"] == "none").mean()) if len(other) else np.nan),
        ("outside_created_call", float((other["motif_effect"] == "created").mean()) if len(other) else np.nan),
        ("outside_disrupted_call", float((other["motif_effect"] == "disrupted").mean()) if len(other) else np.nan),
    ]
    return pd.DataFrame(rows, columns=["metric", "value"])
