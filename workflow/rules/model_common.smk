# Helpers of the model rules (kept apart from the rules, as snakemake --lint asks).
import json
import shlex

from enformer_lite.pipeline import flags as pipeline_flags


def settings_json(*sections):
    """What the named config sections say about the result, as JSON for the CLI's --params."""
    return pipeline_flags.settings_json(config, *sections)


def hardware_json(*sections):
    """How the job runs (devices, batching), as JSON for a second --params; a resource, so no rerun trigger."""
    return pipeline_flags.hardware_json(config, *sections)


def model_targets():
    """Evaluation tables and predicted-track folders of every genome."""
    return expand("results/eval/{genome}.tsv", genome=GENOMES) + expand(
        "results/predict/{genome}", genome=GENOMES
    )
