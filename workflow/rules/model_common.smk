# Helpers of the model rules (kept apart from the rules, as snakemake --lint asks).
import json
import shlex

from enformer_lite.pipeline import flags as pipeline_flags


def settings_json(*sections):
    """The named config sections as one JSON object for the CLI's --params."""
    return pipeline_flags.settings_json(config, *sections)


def model_targets():
    """Evaluation tables and predicted-track folders of every genome."""
    return expand("results/eval/{genome}.tsv", genome=GENOMES) + expand(
        "results/predict/{genome}", genome=GENOMES
    )
