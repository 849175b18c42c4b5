"""Which candidate elements drive which genes, according to a trained model.

For each gene a window centred on its TSS is scored; every candidate element inside the
window gets gradient × input, in-silico deletion (dinucleotide shuffle or N) and attention
scores for the predicted CAGE signal at the TSS, next to distance and activity-by-contact
baselines. See :mod:`enformer_lite.contributions.methods` for the definitions and
:mod:`enformer_lite.contributions.score` for the files written.

Typical use::

    from enformer_lite.contributions import ContributionsConfig, score_chunk
    score_chunk("results/model/best.ckpt", "genome.fa", "genes.bed", "candidates.bed",
                "out/chunk0", ContributionsConfig(max_genes=4), head="human")
"""

from enformer_lite.contributions.config import ContributionsConfig
from enformer_lite.contributions.evaluate import binary_metrics, evaluate_pairs, read_truth
from enformer_lite.contributions.methods import ContributionScorer, GeneScores
from enformer_lite.contributions.regions import ElementIndex, GenePlan
from enformer_lite.contributions.runner import ModelRunner, SplicedRunner, make_runner
from enformer_lite.contributions.score import evaluate_files, gather, score_chunk
from enformer_lite.contributions.shuffle import dinucleotide_shuffle

__all__ = [
    "ContributionScorer",
    "ContributionsConfig",
    "ElementIndex",
    "GenePlan",
    "GeneScores",
    "ModelRunner",
    "SplicedRunner",
    "binary_metrics",
    "dinucleotide_shuffle",
    "evaluate_files",
    "evaluate_pairs",
    "gather",
    "make_runner",
    "read_truth",
    "score_chunk",
]
