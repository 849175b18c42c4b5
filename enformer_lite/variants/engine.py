"""Batched model calls for alleles, sharing one reference prediction per window.

Alleles are sorted by (chromosome, window start, position) and grouped by window; each
group costs one reference sequence plus one alternative sequence per allele. Sequences
stream through fixed-size batches, so memory stays bounded by the batch, whatever the
number of alleles.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyfaidx
import torch

from enformer_lite.data.sequence import one_hot
from enformer_lite.inference.trained import TrainedModel
from enformer_lite.inference.tta import TTAConfig, predict
from enformer_lite.variants.alleles import Allele
from enformer_lite.variants.layout import WindowLayout, window_sequences


class Predictor:
    """Codes (B, L) uint8 → mean training-scale predictions (B, target_length, T) float32 (numpy).

    Runs ``trained.model`` for ``trained.head`` on ``trained.device`` with test-time averaging
    ``tta`` (reverse complements are mapped back with the tracks' strand pairs) and counts the
    sequences predicted.
    """

    def __init__(self, trained: TrainedModel, tta: TTAConfig) -> None:
        self.trained = trained
        self.strand_pair = trained.strand_pair
        self.tta = tta
        self.n_sequences = 0

    def __call__(self, codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        trained = self.trained
        with torch.inference_mode():
            x = torch.from_numpy(one_hot(codes)).to(trained.device)
            out = predict(trained.model, x, trained.head, self.strand_pair, self.tta)
        self.n_sequences += codes.shape[0]
        return out.float().cpu().numpy()


@dataclass(frozen=True)
class PredictedPair:
    """Reference and alternative predictions of one allele, each (target_length, T) float32."""

    index: int
    window_start: int
    ref: npt.NDArray[np.float32]
    alt: npt.NDArray[np.float32]


def _sequences(
    alleles: Sequence[Allele], fasta: pyfaidx.Fasta, layout: WindowLayout
) -> Iterator[tuple[int | None, int, npt.NDArray[np.uint8]]]:
    """(allele index or None for a reference, window start, codes (L,) uint8), reference first per window."""
    starts = [layout.window_start(a.start) for a in alleles]
    order = sorted(range(len(alleles)), key=lambda i: (alleles[i].chrom, starts[i], alleles[i].start, i))
    for (chrom, window_start), members in itertools.groupby(order, key=lambda i: (alleles[i].chrom, starts[i])):
        members = list(members)
        edits = [(alleles[i].start, alleles[i].ref, alleles[i].alt) for i in members]
        reference, alternatives = window_sequences(fasta, chrom, window_start, edits, layout)
        yield None, window_start, reference
        for i, codes in zip(members, alternatives):
            yield i, window_start, codes


def predict_pairs(
    alleles: Sequence[Allele], fasta: pyfaidx.Fasta, layout: WindowLayout, predictor: Predictor, batch_size: int
) -> Iterator[PredictedPair]:
    """Reference and alternative predictions (target_length, T) for every allele, in window order (not input order).

    Sequences go through ``predictor`` ``batch_size`` at a time; the pairs of one window share
    one reference array.
    """
    reference: npt.NDArray[np.float32] | None = None
    items = _sequences(alleles, fasta, layout)
    while batch := list(itertools.islice(items, batch_size)):
        predictions = predictor(np.stack([codes for _, _, codes in batch]))
        for (index, window_start, _), prediction in zip(batch, predictions):
            if index is None:
                reference = prediction
            else:
                assert reference is not None  # a window's reference always precedes its alleles
                yield PredictedPair(index, window_start, reference, prediction)
