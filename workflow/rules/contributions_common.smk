# Helpers of the contribution rules (contributions.smk); logic in enformer_lite.pipeline.contributions.
import json

from enformer_lite.pipeline import contributions as pipeline_contrib

CONTRIB = config["contributions"]


def contrib_genomes():
    """Genomes with genes and candidate elements configured (none when the stage is disabled)."""
    return pipeline_contrib.contrib_genomes(config)


def contrib_truth_genomes():
    """Genomes scored for contributions that have a truth table."""
    return pipeline_contrib.contrib_truth_genomes(config)


def contrib_settings(wildcards):
    """The contributions section as --params JSON, with the chromosomes to draw genes from."""
    return pipeline_contrib.contrib_settings(config, wildcards.genome)


def contrib_chunks(wildcards):
    """Chunk directories of one genome, in gene order."""
    return pipeline_contrib.contrib_chunks(config, wildcards.genome)


def contributions_targets():
    """Final contribution outputs of every genome, plus the evaluation when any genome has truth."""
    return pipeline_contrib.contributions_targets(config)
