# Helpers of the figure rules (plots.smk): paths, optional inputs, report flags, loci.
import shlex

PLOTS = config["plots"]
MODEL_CKPT = "results/model/best.ckpt"
PLOT_FORMATS = ("png", "pdf")


def plot_optional_file(key):
    """Input function: the genome's ``key`` file (genes, candidates) or nothing when not configured."""
    return lambda wc: [genome_cfg(wc)[key]] if genome_cfg(wc).get(key) else []


def plot_optional_flag(flag, key):
    """Params function: ``--flag path`` for a configured genome file, else an empty string."""
    return lambda wc: f"{flag} {shlex.quote(genome_cfg(wc)[key])}" if genome_cfg(wc).get(key) else ""


def plot_figure(path, caption, category, subcategory=None, key="", **labels):
    """PNG and PDF outputs (named ``{key}png``, ``{key}pdf``) of one figure, shown in the report under ``category``."""
    return {
        f"{key}{fmt}": report(f"{path}.{fmt}", caption=caption, category=category, subcategory=subcategory,
                              labels={**labels, "format": fmt.upper()})
        for fmt in PLOT_FORMATS
    }


def plot_vcf_genome(wildcards):
    """The genome config block of the VCF named by the wildcard."""
    return config["genomes"][config["variants"]["vcfs"][wildcards.name]["genome"]]


def plot_vcf_genes(wildcards):
    """Input function: the genes BED of the VCF's genome, or nothing."""
    genes = plot_vcf_genome(wildcards).get("genes")
    return [genes] if genes else []


def plot_configured_loci(wildcards):
    """``--region NAME=chrom:start-end`` flags for the loci configured for this genome."""
    return " ".join(f"--region {shlex.quote(item)}" for item in PLOTS["loci"].get(wildcards.genome, []))


def plot_loci_table(wildcards):
    """Input function: the genome's loci table; jobs that need it wait for the plot_loci checkpoint."""
    return checkpoints.plot_loci.get(genome=wildcards.genome).output.table


def plot_locus_region(wildcards, input):
    """The region of one locus, from the loci table."""
    from enformer_lite.plots.loci import read_loci

    if not os.path.exists(input.loci):
        return "pending"  # the DAG is built again once the plot_loci checkpoint has written the table
    for locus in read_loci(input.loci):
        if locus.name == wildcards.locus:
            return f"{locus.region.chrom}:{locus.region.start}-{locus.region.end}"
    raise ValueError(f"{input.loci}: no locus named {wildcards.locus!r}")


def plot_locus_figures(wildcards):
    """Track figures of every locus of every genome (after the loci tables exist)."""
    from enformer_lite.plots.loci import read_loci

    out = []
    for genome in GENOMES:
        table = checkpoints.plot_loci.get(genome=genome).output.table
        out += expand("results/plots/{genome}/tracks/{locus}.{fmt}", genome=genome,
                      locus=[locus.name for locus in read_loci(table)], fmt=PLOT_FORMATS)
    return out


def plot_has_producer(path):
    """Whether some rule of the workflow writes ``path`` (figures are requested only for results that are made)."""
    return any(rule.is_producer(path) for rule in workflow.rules)


def plot_targets():
    """Figures requested by `snakemake`: one set per result the workflow makes (none when plots.enabled is false)."""
    if not PLOTS["enabled"]:
        return []
    out = []
    if plot_has_producer("results/model/metrics.csv"):
        out += expand("results/plots/training.{fmt}", fmt=PLOT_FORMATS)
    if all(plot_has_producer(f"results/eval/{g}.tsv") for g in GENOMES):
        out += expand("results/plots/accuracy.{fmt}", fmt=PLOT_FORMATS)
    with_genes = [g for g in GENOMES if config["genomes"][g].get("genes") and plot_has_producer(f"results/eval/{g}.tss.tsv")]
    out += expand("results/plots/{genome}/tss_scatter.{fmt}", genome=with_genes, fmt=PLOT_FORMATS)
    variants = config.get("variants") or {}
    if variants.get("enabled"):
        names = [n for n in variants.get("vcfs", {}) if plot_has_producer(f"results/variants/{n}.h5")]
        out += expand("results/plots/variants/{name}/{figure}.{fmt}", name=names, figure=["strongest", "scores"],
                      fmt=PLOT_FORMATS)
    contributions = config.get("contributions") or {}
    if contributions.get("enabled"):
        scored = [g for g in GENOMES if config["genomes"][g].get("genes") and config["genomes"][g].get("candidates")
                  and plot_has_producer(f"results/contributions/{g}.enhancer_gene.tsv")]
        out += expand("results/plots/contributions/{genome}.{fmt}", genome=scored, fmt=PLOT_FORMATS)
    if plot_has_producer(MODEL_CKPT):
        out.append(plot_locus_figures)
    return out
