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


def plot_figure(path, caption, category, subcategory=None, **labels):
    """PNG and PDF outputs of one figure, both shown in the report under ``category``."""
    return {
        fmt: report(f"{path}.{fmt}", caption=caption, category=category, subcategory=subcategory,
                    labels={**labels, "format": fmt.upper()})
        for fmt in PLOT_FORMATS
    }


def plot_configured_loci(wildcards):
    """``--region NAME=chrom:start-end`` flags for the loci configured for this genome."""
    return " ".join(f"--region {shlex.quote(item)}" for item in PLOTS["loci"].get(wildcards.genome, []))


def plot_locus_region(wildcards, input):
    """The region of one locus, from the loci table."""
    from enformer_lite.plots.loci import read_loci

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
                      locus=[l.name for l in read_loci(table)], fmt=PLOT_FORMATS)
    return out


def plot_targets():
    """Figures requested by `snakemake` (none when plots.enabled is false)."""
    if not PLOTS["enabled"] or not rules.has("train"):
        return []
    out = expand("results/plots/training.{fmt}", fmt=PLOT_FORMATS)
    if rules.has("evaluate"):
        out += expand("results/plots/accuracy.{fmt}", fmt=PLOT_FORMATS)
        with_genes = [g for g in GENOMES if config["genomes"][g].get("genes")]
        out += expand("results/plots/{genome}/tss_scatter.{fmt}", genome=with_genes, fmt=PLOT_FORMATS)
    return out + [plot_locus_figures]
