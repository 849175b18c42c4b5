# Helpers of the variant-effect rules (variants.smk): config look-ups, truth availability, targets.
import json
import os
import shlex

VARIANTS = config["variants"]


def variant_vcf(wildcards):
    """The config entry of the VCF named by the wildcard."""
    return VARIANTS["vcfs"][wildcards.vcf_name]


def variant_genome(wildcards):
    """The genomes entry of the VCF's genome."""
    return config["genomes"][variant_vcf(wildcards)["genome"]]


def variant_head(wildcards):
    """Model head that scores the VCF: its `head`, else its genome's name."""
    entry = variant_vcf(wildcards)
    return entry.get("head") or entry["genome"]


def variant_genes(wildcards):
    """The genome's genes BED as a list (empty when not configured)."""
    genes = variant_genome(wildcards).get("genes")
    return [genes] if genes else []


def variant_settings():
    """The variants section as --params JSON (the CLI ignores the workflow-only keys)."""
    return json.dumps({"variants": VARIANTS}, sort_keys=True)


def variant_truth_ready(path):
    """A truth table can be used if it exists or the simulate rule declares it."""
    if not path:
        return False
    if os.path.exists(path):
        return True
    return rules.has("simulate") and path in [str(p) for p in rules.simulate.output]


def variant_eval_cases():
    """VCF names whose truth table can be used (and whose genome has genes)."""
    return [
        name
        for name, entry in VARIANTS["vcfs"].items()
        if variant_truth_ready(entry.get("truth", "")) and config["genomes"][entry["genome"]].get("genes")
    ]


def variant_targets():
    """Variant outputs requested by `snakemake` (none when disabled or no model can be had)."""
    if not VARIANTS["enabled"] or not VARIANTS["vcfs"]:
        return []
    if not (os.path.exists(VARIANTS["checkpoint"]) or rules.has("train")):
        return []
    names = list(VARIANTS["vcfs"])
    out = expand("results/variants/{vcf_name}.{ext}", vcf_name=names, ext=["tsv.gz", "vcf.gz", "vcf.gz.tbi"])
    if variant_eval_cases():
        out.append("results/variants/eval.tsv")
    return out
