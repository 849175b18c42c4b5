# Helpers of the interpretation rules (interpret.smk); logic in enformer_lite.pipeline.interpret.
from enformer_lite.pipeline import interpret as pipeline_interpret

INTERPRET = config["interpret"]


def interpret_genomes():
    """Genomes that get ISM and motif discovery (none when the stage is disabled)."""
    return pipeline_interpret.interpret_genomes(config)


def interpret_vcf_genome(wildcards):
    """The genomes entry of the VCF named by the wildcard."""
    return config["genomes"][pipeline_interpret.vcf_genome(config, wildcards.vcf_name)]


def interpret_vcf_head(wildcards):
    """Model head of the VCF named by the wildcard (its `head`, else its genome)."""
    entry = config["variants"]["vcfs"][wildcards.vcf_name]
    return entry.get("head") or entry["genome"]


def interpret_truth(wildcards):
    """Input list that makes the genome's motif truth table available (or nothing)."""
    genome = getattr(wildcards, "genome", None) or pipeline_interpret.vcf_genome(
        config, wildcards.vcf_name
    )
    declared = [str(p) for p in rules.simulate.output] if rules.has("simulate") else []
    return pipeline_interpret.truth_input(config, genome, declared)


def interpret_truth_flag(wildcards):
    """``--truth PATH`` for the genome's motif truth table, or nothing."""
    genome = getattr(wildcards, "genome", None) or pipeline_interpret.vcf_genome(
        config, wildcards.vcf_name
    )
    return pipeline_interpret.truth_flag(config, genome)


def interpret_targets():
    """Final outputs of the interpretation stage."""
    return pipeline_interpret.interpret_targets(
        config, model_available=rules.has("train")
    )
