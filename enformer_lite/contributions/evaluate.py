"""How well contribution scores recover known enhancer–gene pairs.

The truth table (for the demo world the simulator's ``truth/enhancer_gene.tsv``; for real
data, e.g. a CRISPRi screen) needs columns ``gene``, ``element`` and ``regulates``
(True/False, 1/0, yes/no). Scored pairs are matched to it by gene and element id; pairs
on only one side are left out and counted in the log. For each method the area under the
ROC curve and the average precision (auPRC, step-wise as in torchmetrics) are computed
over all matched pairs and per distance bin; pairs whose score is NaN are left out of that
method (``n_pairs`` says how many were used). Two baselines come along: ``distance``
(closer = higher) and ``abc`` (activity by contact from the predicted accessibility).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from scipy.stats import rankdata
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

from enformer_lite.errors import InputError

log = logging.getLogger(__name__)

EVAL_METHODS = ("deletion", "grad_input_abs", "grad_input", "attention", "abc", "distance")
DISTANCE_EDGES = (10_000, 50_000)
EVAL_COLUMNS = ["genome", "method", "distance_bin", "n_pairs", "n_positive", "positive_fraction", "auroc", "auprc"]
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def read_truth(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Columns gene, element (str) and regulates (bool); InputError names the file and bad line."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: truth table not found")
    frame = pd.read_csv(file, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in ("gene", "element", "regulates") if c not in frame.columns]
    if missing:
        raise InputError(f"{file}: truth table lacks column(s) {', '.join(missing)}")
    text = frame["regulates"].str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{file} line {row + 2}: regulates must be True/False, got {frame['regulates'].iloc[row]!r}")
    dup = frame.duplicated(["gene", "element"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"{file} line {row + 2}: pair {frame['gene'].iloc[row]}/{frame['element'].iloc[row]} listed twice")
    return pd.DataFrame({"gene": frame["gene"], "element": frame["element"], "regulates": text.isin(_TRUE).to_numpy()})


def distance_bin_labels(edges: Sequence[int]) -> list[str]:
    """Labels of the bins [0, e1), [e1, e2), ..., [e_last, inf) in kb, e.g. ``<10kb``, ``10-50kb``, ``>=50kb``."""
    kb = [f"{e / 1000:g}" for e in edges]
    return [f"<{kb[0]}kb"] + [f"{a}-{b}kb" for a, b in zip(kb[:-1], kb[1:])] + [f">={kb[-1]}kb"]


def assign_distance_bins(distance: npt.ArrayLike, edges: Sequence[int]) -> npt.NDArray[np.object_]:
    """The label of each distance's bin (see :func:`distance_bin_labels`)."""
    labels = np.array(distance_bin_labels(edges), dtype=object)
    return labels[np.searchsorted(np.asarray(edges), np.asarray(distance), side="right")]


def binary_metrics(scores: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[int, int, float, float]:
    """(n used, n positive, auROC, auPRC) of ``scores`` for boolean ``labels``; NaN scores are dropped,
    and the areas are NaN unless both classes remain."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    keep = np.isfinite(s)
    s, y = s[keep], y[keep]
    n, n_pos = int(len(s)), int(y.sum())
    if n_pos == 0 or n_pos == n:
        return n, n_pos, math.nan, math.nan
    # Both areas depend only on the order of the scores (ties included). torchmetrics treats
    # scores outside [0, 1] as logits and squashes them with a sigmoid, which would tie large
    # scores, so the scores are replaced by their ranks scaled into (0, 1].
    preds = torch.from_numpy(rankdata(s, method="average") / n)
    target = torch.from_numpy(y.astype(np.int64))
    return n, n_pos, float(binary_auroc(preds, target)), float(binary_average_precision(preds, target))


def method_scores(pairs: pd.DataFrame, method: str) -> npt.NDArray[np.float64]:
    """Scores of one method (higher = more likely to regulate); ``distance`` is negated distance."""
    if method == "distance":
        return -pairs["distance"].to_numpy(dtype=np.float64)
    return pairs[method].to_numpy(dtype=np.float64)


def match_truth(scores: pd.DataFrame, truth: pd.DataFrame, genome: str) -> pd.DataFrame:
    """Scored pairs with a ``regulates`` column, inner-joined on gene and element."""
    merged = scores.merge(truth, on=["gene", "element"], how="inner", validate="one_to_one")
    scored_genes = set(scores["gene"])
    unmatched_truth = int((truth["gene"].isin(scored_genes)).sum()) - len(merged)
    log.info(
        "%s: %d scored pairs, %d with truth; %d truth pairs of scored genes were not scored (outside the window)",
        genome, len(scores), len(merged), unmatched_truth,
    )
    return merged


def evaluate_pairs(
    pairs: Mapping[str, pd.DataFrame], methods: Sequence[str] = EVAL_METHODS, edges: Sequence[int] = DISTANCE_EDGES
) -> pd.DataFrame:
    """Metrics per genome (and pooled as ``all`` when there are several), method and distance bin.

    ``pairs``: genome → matched table with the score columns, ``distance`` and ``regulates``.
    """
    groups = dict(pairs)
    if len(groups) > 1:
        groups["all"] = pd.concat(list(pairs.values()), ignore_index=True)
    rows = []
    for genome, table in groups.items():
        bins = assign_distance_bins(table["distance"], edges)
        for method in methods:
            scores = method_scores(table, method)
            for label in ["all", *distance_bin_labels(edges)]:
                mask = np.ones(len(table), bool) if label == "all" else bins == label
                n, n_pos, auroc, auprc = binary_metrics(scores[mask], table["regulates"].to_numpy()[mask])
                rows.append([genome, method, label, n, n_pos, n_pos / n if n else math.nan, auroc, auprc])
    return pd.DataFrame(rows, columns=EVAL_COLUMNS)
