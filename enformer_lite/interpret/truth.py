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


POOLED_METRICS = ("planted_motif_types", "recovered_motif_types", "recall", "patterns", "spurious_patterns", "precision")
"""Metrics of the world-level motif table (:func:`pool_motif_evaluations`), in order."""

EVAL_MOTIF_COLUMNS = ["motif", "instances", "instances_scanned", "recovered", "best_q"]
"""Columns of a genome's ``eval_motifs.tsv`` that the pooled table reads."""

_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _numbers(file: Path, table: pd.DataFrame, column: str, key: str, missing_ok: bool = True) -> pd.Series:
    """``table[column]`` as floats (``NA``/empty → NaN when ``missing_ok``); InputError names the file, line and key."""
    text = table[column].str.strip()
    values = pd.to_numeric(text.replace({"NA": "nan", "": "nan"}), errors="coerce").astype(float)
    bad = values.isna() & ~(text.isin(["NA", "nan", ""]) if missing_ok else pd.Series(False, index=text.index))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{file}:{row + 2}: {key} {table[key].iloc[row]}: {column} {table[column].iloc[row]!r} "
                         "is not a number")
    return values


def read_motif_eval(directory: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``eval.tsv`` (metric, value) and ``eval_motifs.tsv`` of one ``enformer-lite motifs --truth`` directory.

    Returns the metrics (metric, value: float) and the per-motif table (:data:`EVAL_MOTIF_COLUMNS`, ``recovered``
    as bool); InputError names the file and its missing column, missing metric or bad record.
    """
    folder = Path(directory)
    metrics_file, motifs_file = folder / "eval.tsv", folder / "eval_motifs.tsv"
    tables = {}
    for file, columns in ((metrics_file, ["metric", "value"]), (motifs_file, EVAL_MOTIF_COLUMNS)):
        if not file.is_file():
            raise InputError(f"{file}: motif evaluation not found (written by enformer-lite motifs --truth)")
        table = pd.read_csv(file, sep="\t", dtype=str, keep_default_na=False)
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InputError(f"{file}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
        tables[file] = table
    metrics, per_motif = tables[metrics_file], tables[motifs_file]
    absent = [m for m in POOLED_METRICS if m not in set(metrics["metric"])]
    if absent:
        raise InputError(f"{metrics_file}: missing metric(s) {', '.join(absent)}")
    values = _numbers(metrics_file, metrics, "value", "metric")
    recovered = per_motif["recovered"].str.strip().str.lower().map(_BOOLS)
    if recovered.isna().any():
        row = int(np.flatnonzero(recovered.isna().to_numpy())[0])
        raise InputError(f"{motifs_file}:{row + 2}: motif {per_motif['motif'].iloc[row]}: recovered "
                         f"{per_motif['recovered'].iloc[row]!r} is not True/False")
    out = per_motif[EVAL_MOTIF_COLUMNS].copy()
    out["recovered"] = recovered.astype(bool)
    for column in ("instances", "instances_scanned", "best_q"):
        out[column] = _numbers(motifs_file, per_motif, column, "motif", missing_ok=column == "best_q")
    return pd.DataFrame({"metric": metrics["metric"], "value": values}), out


def pool_motif_evaluations(
    evals: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """World-level recall over every simulated genome: the per-genome motif evaluations pooled.

    A motif type counts as planted when any genome plants it and as recovered when any genome recovers it
    (a pattern matching it with TOMTOM q under the threshold of ``enformer-lite motifs``, among the TFs that
    genome plants). Patterns and spurious patterns are summed over genomes.

    Args:
        evals: genome → (metrics, per_motif) as :func:`read_motif_eval` (or :func:`motif_evaluation`) gives them.

    Returns:
        metrics: one row per :data:`POOLED_METRICS` (metric, value) with the pooled value, then one column per
            genome holding that genome's own value.
        per_motif: one row per motif planted in any genome: motif, planted_in and recovered_in (genomes joined
            by ``,``; ``.`` for none), recovered, instances and instances_scanned (summed), best_q (lowest over
            the genomes that plant it).
    """
    if not evals:
        raise InputError("pooled motif evaluation: no genome evaluation given")
    planted: dict[str, list[str]] = {}
    found: dict[str, list[str]] = {}
    sums: dict[str, list[float]] = {}
    best: dict[str, float] = {}
    for genome, (_, per_motif) in evals.items():
        for row in per_motif.itertuples(index=False):
            tf = str(row.motif)
            planted.setdefault(tf, []).append(genome)
            if row.recovered:
                found.setdefault(tf, []).append(genome)
            total = sums.setdefault(tf, [0.0, 0.0])
            total[0] += float(row.instances)
            total[1] += float(row.instances_scanned)
            if pd.notna(row.best_q):
                best[tf] = min(best.get(tf, np.inf), float(row.best_q))
    per_genome = {g: dict(zip(m["metric"], m["value"].astype(float))) for g, (m, _) in evals.items()}
    patterns = sum(v["patterns"] for v in per_genome.values())
    spurious = sum(v["spurious_patterns"] for v in per_genome.values())
    pooled = {
        "planted_motif_types": len(planted),
        "recovered_motif_types": len(found),
        "recall": len(found) / len(planted) if planted else np.nan,
        "patterns": patterns,
        "spurious_patterns": spurious,
        "precision": (patterns - spurious) / patterns if patterns else np.nan,
    }
    metrics = pd.DataFrame({"metric": list(POOLED_METRICS), "value": [float(pooled[m]) for m in POOLED_METRICS]})
    for genome, values in per_genome.items():
        metrics[genome] = [values[m] for m in POOLED_METRICS]
    motifs = sorted(planted)
    per_motif_out = pd.DataFrame({
        "motif": motifs,
        "planted_in": [",".join(planted[tf]) for tf in motifs],
        "recovered_in": [",".join(found.get(tf, [])) or "." for tf in motifs],
        "recovered": [tf in found for tf in motifs],
        "instances": [int(sums[tf][0]) for tf in motifs],
        "instances_scanned": [int(sums[tf][1]) for tf in motifs],
        "best_q": [best.get(tf, np.nan) for tf in motifs],
    })
    return metrics, per_motif_out
