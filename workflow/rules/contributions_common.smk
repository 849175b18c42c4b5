# Helpers of the contribution rules (contributions.smk): genomes, truth tables, settings, chunk paths.
import json

CONTRIB = config["contributions"]


def contrib_genomes():
    """Genomes with genes and candidate elements configured (none when the stage is disabled)."""
    if not CONTRIB["enabled"]:
        return []
    return [g for g in GENOMES if config["genomes"][g].get("genes") and config["genomes"][g].get("candidates")]


def contrib_truth_genomes():
    """Genomes scored for contributions that have a truth table."""
    return [g for g in contrib_genomes() if g in CONTRIB["truth"]]


def contrib_settings(wildcards):
    """The contributions section as --params JSON, with the chromosomes to draw genes from."""
    chroms = CONTRIB["chroms"]
    if not chroms and CONTRIB["held_out_only"]:
        chroms = config["genomes"][wildcards.genome].get("splits", {}).get("test", [])
    return json.dumps({"contributions": {**CONTRIB, "chroms": list(chroms)}}, sort_keys=True)


def contrib_chunks(wildcards):
    """Chunk directories of one genome, in gene order."""
    return expand(
        "results/contributions/{genome}/chunks/{chunk}", genome=wildcards.genome, chunk=range(CONTRIB["chunks"])
    )


def contributions_targets():
    """Final contribution outputs of every genome, plus the evaluation when any genome has truth."""
    genomes = contrib_genomes()
    out = expand(
        "results/contributions/{genome}.{kind}", genome=genomes, kind=["enhancer_gene.tsv", "bedpe", "tracks"]
    )
    return out + (["results/contributions/eval.tsv"] if contrib_truth_genomes() else [])
