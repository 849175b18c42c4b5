"""Variant-effect scoring: VCF alleles → reference/alternative predictions → scores per track and gene.

Modules, in data-flow order:

* :mod:`~enformer_lite.variants.alleles`: cyvcf2 records → one :class:`Allele` per ALT, checked
  against the FASTA, or a :class:`Skip` with its reason;
* :mod:`~enformer_lite.variants.layout`: window placement (the model's
  :class:`~enformer_lite.data.geometry.WindowGeometry` plus a centring grid) and kipoiseq-style
  fixed-length reference/alternative sequences (SNPs, MNPs and indels);
* :mod:`~enformer_lite.variants.engine`: batched inference with a
  :class:`~enformer_lite.inference.trained.TrainedModel`, sharing one reference per window;
* :mod:`~enformer_lite.variants.scores`: SAD, LOG2R, D2, MAXD and per-gene TSS scores on the
  tracks' original scale (:class:`~enformer_lite.inference.signal.Untransform`, unit ``native``);
* :mod:`~enformer_lite.variants.chunks`: chunks as genomic regions read through the VCF's
  tabix/CSI index (each record read by one job, once), and indexed copies of VCFs without index;
* :mod:`~enformer_lite.variants.score`: a VCF (or one chunk) → HDF5 score file;
* :mod:`~enformer_lite.variants.store` / :mod:`~enformer_lite.variants.outputs`: HDF5 score
  file, TSV tables and the annotated VCF, written in row blocks;
* :mod:`~enformer_lite.variants.gather`: merging chunks; :mod:`~enformer_lite.variants.evaluate`:
  predicted against simulated effects, streamed through disk partitions and the out-of-core
  correlations of :mod:`~enformer_lite.variants.correlate`.

Memory of gather and evaluation does not grow with the number of variants (blocks of
:data:`~enformer_lite.variants.store.BLOCK_VALUES` score values, partitions of
:data:`~enformer_lite.variants.correlate.MEMORY_ROWS` rows).

The commands ``score-variants``, ``gather-variants`` and ``eval-variants`` live in
:mod:`enformer_lite.cli.score_variants`, :mod:`~enformer_lite.cli.gather_variants` and
:mod:`~enformer_lite.cli.eval_variants`.

Design choices:

* Indels are scored, not skipped. Their alternative window is built as kipoiseq's
  ``VariantSeqExtractor`` builds it, anchored at the variant: bases left of the variant stay
  in place, the right side moves by the length difference and the window keeps its length.
  Insertions and deletions in promoters and enhancers are common and can destroy or create
  binding sites, and the shift of downstream bases is a few bp against 128-bp bins, so
  bin-by-bin comparison with the reference stays meaningful. Alleles longer than
  ``max_indel_length`` (500 bp by default) are skipped, because a long shift would compare
  misaligned bins; symbolic alleles (``<DEL>``) carry no sequence and are skipped.
* Reference sharing: windows are centred on a grid (``grid``, default 1,024 bp) rather than
  on each variant, so that all variants within one grid cell share one reference prediction
  (one forward pass per window plus one per allele instead of two per allele). A variant then
  sits at most ``grid / 2`` bp from the window centre, small against the ~57 kb the target
  bins reach on either side; ``grid: 1`` restores exact centring.
"""

from enformer_lite.variants.alleles import SKIP_REASONS, Allele, AlleleReader, Skip
from enformer_lite.variants.config import ScoreConfig
from enformer_lite.variants.layout import WindowLayout, apply_allele, window_sequences
from enformer_lite.variants.scores import GENE_SCORE_NAMES, SCORE_NAMES, allele_scores, gene_scores

__all__ = [
    "GENE_SCORE_NAMES",
    "SCORE_NAMES",
    "SKIP_REASONS",
    "Allele",
    "AlleleReader",
    "ScoreConfig",
    "Skip",
    "WindowLayout",
    "allele_scores",
    "apply_allele",
    "gene_scores",
    "window_sequences",
]
