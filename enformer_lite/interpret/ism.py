"""In-silico saturation mutagenesis (ISM): every alternative base at every position of a region.

For a region (a TSS ± N bp, an element, a variant ± N bp) the model sees one window centred on
the region's centre (:meth:`~enformer_lite.data.geometry.WindowGeometry.window_around_bin`), and
the *readout* is the prediction summed over the centre bin ± ``readout_flank_bins``, per track.
One reference pass is shared by all ``3 × P`` single-base edits of the region; with an
:class:`~enformer_lite.model.EnformerLite` the edits go through the contributions stage's
:class:`~enformer_lite.contributions.runner.SplicedRunner`, which reuses the reference conv-tower
features and recomputes only the ~``tower_reach`` bp an edit can change, so an edit costs the
transformer and head only. Any other ``model(x, head=...)`` gets full forward passes.

``effect[p, b, t]`` = readout of the sequence with base ``b`` at position ``p`` minus the
reference readout (0 at the reference base; NaN at an N).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from enformer_lite.contributions.runner import Edit, ModelRunner, Reference, SplicedRunner
from enformer_lite.data.sequence import N_CODE, one_hot

log = logging.getLogger(__name__)

_EYE = torch.eye(4)


@dataclass(frozen=True)
class IsmRegion:
    """One region to mutate: bases [start, end) of ``chrom`` (0-based), window centred on ``centre``."""

    name: str
    kind: str
    chrom: str
    start: int
    end: int
    centre: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class IsmResult:
    """ISM of one region.

    Attributes:
        region: the region.
        window_start: genome position of the window's first base.
        ref_codes: (P,) base codes of the region (A=0 C=1 G=2 T=3 N=4).
        reference: (T,) readout of the reference sequence per track.
        effect: (P, 4, T) alt − ref readout; 0 at the reference base, NaN where the reference is N.
    """

    region: IsmRegion
    window_start: int
    ref_codes: npt.NDArray[np.uint8]
    reference: npt.NDArray[np.float64]
    effect: npt.NDArray[np.float32]


def edited_readout(runner: ModelRunner, ref: Reference, edits: Sequence[Edit]) -> npt.NDArray[np.float64]:
    """Per-track readout (E, T) of each edited sequence: predictions summed over ``runner.tss_bins``.

    Uses the spliced tower features when ``runner`` is a verified :class:`SplicedRunner`, else full passes.
    """
    out = []
    bs = runner.batch_size
    spliced = isinstance(runner, SplicedRunner) and ref.tower is not None
    with torch.no_grad():
        for i in range(0, len(edits), bs):
            batch = edits[i : i + bs]
            if spliced:
                h = torch.stack([runner._spliced_features(ref, e) for e in batch])
                pred, _ = runner._rest(h, bins=runner.tss_bins)  # (b, k, T)
            else:
                x = ref.x[[e.item for e in batch]].clone()
                for j, e in enumerate(batch):
                    x[j, e.start : e.end] = e.replacement
                pred = runner.model(x, head=runner.head)[:, runner.tss_bins - runner.geometry.crop]
            out.append(pred.sum(dim=1).double().cpu().numpy())
            runner.passes += len(batch)
    return np.concatenate(out) if out else np.zeros((0, 0))


def reference_readout(ref: Reference, bins: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """(B, T) readout of the reference pass: ``ref.bins`` summed over the uncropped ``bins``."""
    return ref.bins[:, bins].astype(np.float64).sum(axis=1)


def single_base_edits(codes: npt.NDArray[np.uint8], offset: int, item: int = 0) -> tuple[list[Edit], list[tuple[int, int]]]:
    """Every alternative base at every non-N position of ``codes`` (P,) placed at window offset ``offset``.

    Returns the edits and, for each, its (position index, base) in the region.
    """
    edits: list[Edit] = []
    where: list[tuple[int, int]] = []
    for p, code in enumerate(codes.tolist()):
        if code == N_CODE:
            continue
        for base in range(4):
            if base != code:
                edits.append(Edit(item, offset + p, offset + p + 1, _EYE[base][None]))
                where.append((p, base))
    return edits, where


def ism_window(
    runner: ModelRunner, window_codes: npt.NDArray[np.uint8], start: int, end: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """ISM of bases [start, end) of one window (L,) of codes.

    Returns:
        reference: (T,) readout of the reference window.
        effect: (end - start, 4, T) alt − ref readout (0 at the reference base, NaN at N).
    """
    device = runner.device
    x = torch.as_tensor(one_hot(window_codes), device=device)[None]
    ref = runner.reference(x, torch.ones(1, 1, device=device), want_grad=False)
    reference = reference_readout(ref, runner.tss_bins)[0]
    n_tracks = reference.shape[0]
    codes = window_codes[start:end]
    edits, where = single_base_edits(codes, start)
    edits = [Edit(e.item, e.start, e.end, e.replacement.to(device)) for e in edits]
    effect = np.zeros((end - start, 4, n_tracks), dtype=np.float32)
    effect[codes == N_CODE] = np.nan
    if edits:
        values = edited_readout(runner, ref, edits) - reference[None]
        rows, bases = np.array(where).T
        effect[rows, bases] = values.astype(np.float32)
    return reference, effect


def run_ism(runner: ModelRunner, fetch: Callable[[str, int, int], npt.NDArray[np.uint8]], regions: Sequence[IsmRegion]) -> list[IsmResult]:
    """ISM of every region; ``fetch(chrom, start, end)`` returns base codes (N-padded off the chromosome)."""
    g = runner.geometry
    results = []
    for region in regions:
        window_start = g.window_around_bin(region.centre)
        codes = fetch(region.chrom, window_start, window_start + g.window_length)
        start = region.start - window_start
        reference, effect = ism_window(runner, codes, start, start + region.length)
        results.append(IsmResult(region, window_start, codes[start : start + region.length].copy(), reference, effect))
        log.info("ISM %s (%s %s:%d-%d): %d bases, reference readout %.4g", region.name, region.kind, region.chrom,
                 region.start, region.end, region.length, float(reference.sum()))
    return results


def summary_matrix(effect: npt.NDArray[np.float32], tracks: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    """(P, 4) effect on the sum of the ``tracks`` readouts."""
    return effect[:, :, tracks].astype(np.float64).sum(axis=2)


def per_base_effect(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(P,) mean effect of the 3 alternative bases at each position (the bigWig value); NaN at N."""
    with np.errstate(invalid="ignore"):
        return matrix.sum(axis=1) / 3.0


def centred(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(P, 4) effects minus their mean over the 4 bases (the logo's hypothetical contributions)."""
    return matrix - matrix.mean(axis=1, keepdims=True)
