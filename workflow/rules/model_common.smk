# Helpers of the model rules (kept apart from the rules, as snakemake --lint asks).
import json
import shlex


def settings_json(*sections):
    """The named config sections as one JSON object for the CLI's --params."""
    return json.dumps({name: config.get(name) or {} for name in sections}, sort_keys=True)


def optional_genes_flag(wildcards, input):
    """``--genes BED`` when the genome has a genes file, else nothing."""
    return f"--genes {shlex.quote(input.genes[0])}" if input.genes else ""


def model_targets():
    """Evaluation tables and predicted-track folders of every genome."""
    return expand("results/eval/{genome}.tsv", genome=GENOMES) + expand(
        "results/predict/{genome}", genome=GENOMES
    )
