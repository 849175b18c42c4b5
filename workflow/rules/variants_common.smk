# Helpers of the variant-effect rules (variants.smk); logic in enformer_lite.pipeline.variants.
import json
import os
import shlex

from enformer_lite.pipeline import flags as pipeline_flags
from enformer_lite.pipeline import interpret as pipeline_interpret
from enformer_lite.pipeline import variants as pipeline_variants

VARIANTS = config["variants"]


def variant_vcf(wildcards):
    """The config entry of the VCF named by the wildcard."""
    return VARIANTS["vcfs"][wildcards.vcf_name]


def variant_genome(wildcards):
    """The genomes entry of the VCF's genome."""
    return config["genomes"][variant_vcf(wildcards)["genome"]]


def variant_head(wildcards):
    """Model head that scores the VCF: its `head`, else its genome's name."""
    return pipeline_variants.variant_head(variant_vcf(wildcards))


def variant_genes(wildcards):
    """The genome's prepared genes BED as a list (empty when not configured)."""
    return pipeline_flags.genes_input(config, variant_vcf(wildcards)["genome"])


def variant_input(wildcards):
    """The VCF the variant jobs read and its index: the user's when indexed, else the indexed copy."""
    return pipeline_variants.variant_input(
        wildcards.vcf_name, variant_vcf(wildcards), simulated_files()
    )


def variant_settings():
    """What the variants section says about the scores, as --params JSON (no VCF list, no hardware keys)."""
    return pipeline_flags.settings_json(config, "variants")


def simulated_files():
    """Files the simulate rule declares (truth tables that will exist once it has run)."""
    return [str(p) for p in rules.simulate.output] if rules.has("simulate") else []


def variant_eval_cases():
    """VCF names whose truth table can be used (and whose genome has genes)."""
    return pipeline_variants.variant_eval_cases(config, simulated_files())


def variant_targets():
    """Variant outputs requested by `snakemake` (none when disabled or no model can be had)."""
    return pipeline_variants.variant_targets(
        config, model_available=rules.has("train"), declared=simulated_files()
    )
