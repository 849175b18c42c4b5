"""Per-element contribution scores of candidate elements to a gene's predicted TSS signal.

For each gene (see :mod:`enformer_lite.contributions.runner` for the TSS signal ``S``):

* ``grad_input`` / ``grad_input_abs``: gradient × input, ``dS/dx`` at the observed base,
  summed over the element's bases (signed), or of its absolute value.
* ``deletion``: ``S(reference) - mean S(element replaced)``, the element replaced by a
  dinucleotide-preserving shuffle (``deletion_draws`` seeded draws) or by N — an in-silico
  CRISPRi screen; positive when the element supports expression. ``deletion_fraction`` is
  the same divided by ``S(reference)``.
* ``attention``: attention weight from the TSS bins to the element's bins, averaged over
  TSS bins, heads and layers, summed over the bins the element overlaps (weighted by the
  overlapped fraction of each bin). NaN for a model without attention (the CNN-only ablation).
* ``accessibility``: predicted signal of the accessibility (DNase/ATAC) tracks over the
  element, from the reference pass (bins outside the central output bins come from the
  uncropped trunk on the fast path; NaN there otherwise).
* ``abc``: activity-by-contact baseline, ``accessibility × contact / sum over the gene's
  elements``, contact ``(1 + distance / abc_scale) ** -abc_gamma``.

Each gene/element pair draws its shuffles from its own seeded stream, so scores do not
depend on how genes are chunked or batched.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from enformer_lite.contributions.config import RANK_COLUMNS, ContributionsConfig
from enformer_lite.contributions.regions import GenePlan, bin_overlap_sum
from enformer_lite.contributions.runner import Edit, ModelRunner, Reference
from enformer_lite.contributions.shuffle import dinucleotide_shuffle
from enformer_lite.errors import InputError
from enformer_lite.data.sequence import N_CODE, one_hot
from enformer_lite.data.tracks import TrackSpec

log = logging.getLogger(__name__)

SCORE_COLUMNS = (
    "gene_signal", "grad_input", "grad_input_abs", "deletion", "deletion_fraction", "attention", "accessibility", "abc",
)
TABLE_COLUMNS = (
    ["gene", "element", "chrom", "start", "end", "tss", "strand", "distance", "own_promoter", *SCORE_COLUMNS, "rank"]
    + [f"rank_{c}" for c in RANK_COLUMNS]
)
ACCESSIBILITY_ASSAYS = ("DNASE", "ATAC")


def pick_tracks(tracks: Sequence[TrackSpec], ids: Sequence[str], assays: Sequence[str], what: str) -> list[TrackSpec]:
    """Tracks named by ``ids``, or (when empty) those whose assay is one of ``assays``."""
    by_id = {t.id: t for t in tracks}
    if ids:
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise InputError(f"config contributions.{what}: unknown track id(s) {', '.join(unknown)}; known: {', '.join(by_id)}")
        return [by_id[i] for i in ids]
    return [t for t in tracks if t.assay.upper() in assays]


def strand_weights(targets: Sequence[TrackSpec], n_tracks: int, strand: str) -> npt.NDArray[np.float32]:
    """(T,) 1 for target tracks that count for a gene on ``strand`` (unstranded tracks always,
    stranded ones only on the gene's strand; every target for a gene with strand "."), else 0."""
    weights = np.zeros(n_tracks, dtype=np.float32)
    for t in targets:
        if t.strand == "." or strand == "." or t.strand == strand:
            weights[t.index] = 1.0
    return weights


def element_rng(seed: int, gene: str, element: str) -> np.random.Generator:
    """The shuffle stream of one gene/element pair."""
    return np.random.default_rng([seed, zlib.crc32(gene.encode()), zlib.crc32(element.encode())])


def contact(distance: npt.NDArray[np.integer], gamma: float, scale: float) -> npt.NDArray[np.float64]:
    """Distance-decaying contact of the ABC baseline, (n,)."""
    return (1.0 + np.asarray(distance, dtype=np.float64) / scale) ** -gamma


def abc_scores(accessibility: npt.NDArray[np.floating], distance: npt.NDArray[np.integer], gamma: float, scale: float) -> npt.NDArray[np.float64]:
    """Activity × contact, normalised to sum to 1 over the gene's elements with known accessibility."""
    product = np.clip(np.asarray(accessibility, dtype=np.float64), 0.0, None) * contact(distance, gamma, scale)
    total = np.nansum(product)
    return product / total if total > 0 else np.full_like(product, np.nan)


def own_promoter(
    start: npt.NDArray[np.integer], end: npt.NDArray[np.integer], tss: int, flank: int
) -> npt.NDArray[np.bool_]:
    """Elements (start/end, (n,)) overlapping the gene's own promoter, ``[tss - flank, tss + flank]``."""
    return (np.asarray(start) <= tss + flank) & (np.asarray(end) > tss - flank)


def add_ranks(table: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    """Add ``rank_<column>`` (1 = highest score within the gene; ties share the best rank; NaN scores
    unranked) for every rankable score column, and ``rank`` = ``rank_<rank_by>``."""
    out = table.copy()
    for column in RANK_COLUMNS:
        out[f"rank_{column}"] = out.groupby("gene", sort=False)[column].rank(ascending=False, method="min").astype("Int64")
    out["rank"] = out[f"rank_{rank_by}"]
    return out


@dataclass(eq=False)
class GeneScores:
    """Scores of one gene: its TSS signal, one row per element, and gradient × input per base (L,) or None."""

    plan: GenePlan
    signal: float
    table: pd.DataFrame
    grad_input: npt.NDArray[np.float32] | None


class ContributionScorer:
    """Scores batches of genes with one runner and one config."""

    def __init__(
        self,
        runner: ModelRunner,
        cfg: ContributionsConfig,
        targets: Sequence[TrackSpec],
        accessibility: Sequence[TrackSpec],
        n_tracks: int,
    ) -> None:
        if not targets:
            raise InputError("contributions: no target tracks (no CAGE track in the model's tracks; set contributions.tracks)")
        self.runner = runner
        self.cfg = cfg
        self.targets = list(targets)
        self.accessibility = [t.index for t in accessibility]
        self.n_tracks = n_tracks
        if "attention" in cfg.methods and not runner.has_attention:
            log.warning("the model has no attention layers (e.g. the CNN-only ablation): attention scores are NaN")

    def _replacement(self, codes: npt.NDArray[np.uint8], rng: np.random.Generator) -> torch.Tensor:
        new = np.full_like(codes, N_CODE) if self.cfg.deletion_mode == "mask" else dinucleotide_shuffle(codes, rng)
        return torch.from_numpy(one_hot(new))

    def _deletions(self, ref_codes: npt.NDArray[np.uint8], plans: Sequence[GenePlan], ref: Reference) -> list[npt.NDArray[np.float64]]:
        """Mean TSS signal after replacing each element, per gene (n_elements,)."""
        edits: list[Edit] = []
        for item, plan in enumerate(plans):
            for element, start, end in plan.elements[["element", "rel_start", "rel_end"]].itertuples(index=False):
                rng = element_rng(self.cfg.seed, plan.gene, element)
                for _ in range(self.cfg.draws):
                    replacement = self._replacement(ref_codes[item, start:end], rng).to(ref.x.device)
                    edits.append(Edit(item, int(start), int(end), replacement))
        signal = self.runner.edited_signal(ref, edits)
        out, offset = [], 0
        for plan in plans:
            n = len(plan.elements) * self.cfg.draws
            out.append(signal[offset : offset + n].reshape(-1, self.cfg.draws).mean(axis=1))
            offset += n
        return out

    def score(self, plans: Sequence[GenePlan], codes: npt.NDArray[np.uint8]) -> list[GeneScores]:
        """Score genes whose windows hold base codes ``codes`` (B, L) uint8."""
        methods = set(self.cfg.methods)
        device = self.runner.device
        x = torch.from_numpy(one_hot(codes)).to(device)
        weights = torch.from_numpy(np.stack([strand_weights(self.targets, self.n_tracks, p.strand) for p in plans])).to(device)
        ref = self.runner.reference(x, weights, want_grad="grad_input" in methods)
        attention = self.runner.attention(ref) if "attention" in methods else None
        deleted = self._deletions(codes, plans, ref) if "deletion" in methods else None
        bs = self.runner.geometry.bin_size
        results = []
        for item, plan in enumerate(plans):
            el = plan.elements
            n = len(el)
            spans = list(zip(el["rel_start"].tolist(), el["rel_end"].tolist()))
            nan = np.full(n, np.nan)
            table = pd.DataFrame(
                {
                    "gene": plan.gene,
                    "element": el["element"].to_numpy(dtype=object),
                    "chrom": plan.chrom,
                    "start": el["start"].to_numpy(),
                    "end": el["end"].to_numpy(),
                    "tss": plan.tss,
                    "strand": plan.strand,
                    "distance": el["distance"].to_numpy(),
                    "own_promoter": own_promoter(el["start"].to_numpy(), el["end"].to_numpy(), plan.tss,
                                                 self.cfg.promoter_bp),
                    "gene_signal": np.full(n, ref.signal[item]),
                }
            )
            if ref.grad_input is not None:
                cum = np.concatenate([[0.0], np.cumsum(ref.grad_input[item], dtype=np.float64)])
                cum_abs = np.concatenate([[0.0], np.cumsum(np.abs(ref.grad_input[item]), dtype=np.float64)])
                table["grad_input"] = [cum[e] - cum[s] for s, e in spans]
                table["grad_input_abs"] = [cum_abs[e] - cum_abs[s] for s, e in spans]
            else:
                table["grad_input"] = table["grad_input_abs"] = nan
            if deleted is not None:
                table["deletion"] = ref.signal[item] - deleted[item]
                table["deletion_fraction"] = table["deletion"] / ref.signal[item] if ref.signal[item] != 0 else np.nan
            else:
                table["deletion"] = table["deletion_fraction"] = nan
            table["attention"] = [bin_overlap_sum(attention[item], s, e, bs) for s, e in spans] if attention is not None else nan
            if self.accessibility:
                profile = ref.bins[item][:, self.accessibility].mean(axis=1)
                table["accessibility"] = [bin_overlap_sum(profile, s, e, bs) for s, e in spans]
            else:
                table["accessibility"] = nan
            table["abc"] = abc_scores(table["accessibility"].to_numpy(), table["distance"].to_numpy(), self.cfg.abc_gamma, self.cfg.abc_scale)
            table = add_ranks(table, self.cfg.rank_by)
            grad = ref.grad_input[item] if ref.grad_input is not None else None
            results.append(GeneScores(plan, float(ref.signal[item]), table[TABLE_COLUMNS], grad))
        return results
