"""Variant-effect scoring: VCF alleles → reference/alternative predictions → scores per track and gene.

Modules, in data-flow order:

* :mod:`~enformer_lite.variants.alleles`: cyvcf2 records → one :class:`Allele` per ALT, checked
  against the FASTA, or a :class:`Skip` with its reason;
* :mod:`~enformer_lite.variants.layout`: window placement and kipoiseq-style fixed-length
  reference/alternative sequences (SNPs, MNPs and indels);
* :mod:`~enformer_lite.variants.engine`: batched inference sharing one reference per window;
* :mod:`~enformer_lite.variants.scores`: SAD, LOG2R, D2, MAXD and per-gene TSS scores on the
  tracks' original scale;
* :mod:`~enformer_lite.variants.store` / :mod:`~enformer_lite.variants.outputs`: HDF5 score
  file, TSV tables and the annotated VCF;
* commands ``score-variants`` (:mod:`~enformer_lite.variants.score`), ``gather-variants``
  (:mod:`~enformer_lite.variants.gather`) and ``eval-variants``
  (:mod:`~enformer_lite.variants.evaluate`).
"""

from enformer_lite.variants.alleles import SKIP_REASONS, Allele, AlleleReader, Skip
from enformer_lite.variants.config import ScoreConfig
from enformer_lite.variants.layout import WindowLayout, apply_allele, window_sequences
from enformer_lite.variants.scores import GENE_SCORE_NAMES, SCORE_NAMES, OriginalScale, allele_scores, gene_scores

__all__ = [
    "GENE_SCORE_NAMES",
    "SCORE_NAMES",
    "SKIP_REASONS",
    "Allele",
    "AlleleReader",
    "OriginalScale",
    "ScoreConfig",
    "Skip",
    "WindowLayout",
    "allele_scores",
    "apply_allele",
    "gene_scores",
    "window_sequences",
]
