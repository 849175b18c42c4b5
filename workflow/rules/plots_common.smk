# Helpers of the figure rules (plots.smk): paths, optional inputs, report flags, loci; logic in
# enformer_lite.pipeline.plots.
import shlex

from enformer_lite.pipeline import flags as pipeline_flags
from enformer_lite.pipeline import plots as pipeline_plots

PLOTS = config["plots"]
MODEL_CKPT = pipeline_plots.MODEL_CKPT
PLOT_FORMATS = pipeline_plots.PLOT_FORMATS


def plot_optional_file(key):
    """Input function: the genome's ``key`` file (genes, candidates) or nothing when not configured."""
    return lambda wc: pipeline_flags.optional_file(genome_cfg(wc), key)


def plot_optional_flag(flag, key):
    """Params function: ``--flag path`` for a configured genome file, else an empty string."""
    return lambda wc: pipeline_flags.optional_flag(flag, genome_cfg(wc).get(key))


def plot_figure(path, caption, category, subcategory=None, key="", **labels):
    """PNG and PDF outputs (named ``{key}png``, ``{key}pdf``) of one figure, shown in the report under ``category``."""
    return {
        name: report(
            file,
            caption=caption,
            category=category,
            subcategory=subcategory,
            labels=file_labels,
        )
        for name, (file, file_labels) in pipeline_plots.figure_files(
            path, key, **labels
        ).items()
    }


def plot_vcf_genome(wildcards):
    """The genome config block of the VCF named by the wildcard."""
    return pipeline_plots.vcf_genome(config, wildcards.name)


def plot_vcf_genes(wildcards):
    """Input function: the prepared genes BED of the VCF's genome, or nothing."""
    return pipeline_flags.genes_input(
        config, config["variants"]["vcfs"][wildcards.name]["genome"]
    )


def plot_configured_loci(wildcards):
    """``--region NAME=chrom:start-end`` flags for the loci configured for this genome."""
    return pipeline_plots.configured_loci_flags(config, wildcards.genome)


def plot_loci_table(wildcards):
    """Input function: the genome's loci table; jobs that need it wait for the plot_loci checkpoint."""
    return checkpoints.plot_loci.get(genome=wildcards.genome).output.table


def plot_locus_figures(wildcards):
    """Track figures of every locus of every genome (after the loci tables exist)."""
    out = []
    for genome in GENOMES:
        table = checkpoints.plot_loci.get(genome=genome).output.table
        out += pipeline_plots.locus_figures(genome, table)
    return out


def plot_has_producer(path):
    """Whether some rule of the workflow writes ``path`` (figures are requested only for results that are made)."""
    return any(rule.is_producer(path) for rule in workflow.rules)


def plot_targets():
    """Figures requested by `snakemake`: one set per result the workflow makes (none when plots.enabled is false)."""
    out = pipeline_plots.plot_targets(config, plot_has_producer)
    if pipeline_plots.locus_figures_wanted(config, plot_has_producer):
        out.append(plot_locus_figures)
    return out
