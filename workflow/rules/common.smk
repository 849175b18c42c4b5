# Shared helpers: config validation and the paths each stage produces (logic in enformer_lite.pipeline).
from snakemake.utils import validate

from enformer_lite.pipeline import flags as pipeline_flags
from enformer_lite.pipeline import tracks as pipeline_tracks
from enformer_lite.pipeline import windows as pipeline_windows

validate(config, "../schemas/config.schema.yaml", set_default=True)


include: "resources.smk"


WINDOW_SPEC = pipeline_windows.window_spec(config["windows"])
GENOMES = list(config["genomes"])
SIM = config["simulate"]


def genome_cfg(wildcards):
    """The config block of the genome named by the wildcard."""
    return config["genomes"][wildcards.genome]


def genome_genes(wildcards):
    """The genome's prepared genes BED (made by the genes rule) as an input list; empty without genes in config."""
    return pipeline_flags.genes_input(config, wildcards.genome)


def genes_flag(wildcards, input):
    """``--genes BED`` when the genes input (see genome_genes) is set, else nothing."""
    return pipeline_flags.first_file_flag("--genes", input.genes)


def window_args():
    """Window-geometry flags for the CLI, from config."""
    return pipeline_windows.window_args(config["windows"])


def window_chroms(wildcards):
    """Chromosomes with at least one window, in windows.bed order (after the checkpoint)."""
    bed = checkpoints.windows.get(genome=wildcards.genome).output.bed
    return pipeline_windows.window_chroms(bed)


def extract_parts(wildcards):
    """Per-chromosome HDF5 parts of a genome."""
    return expand(
        "results/{genome}/parts/{chrom}.h5",
        genome=wildcards.genome,
        chrom=window_chroms(wildcards),
    )


def track_files(wildcards):
    """bigWig files named in the genome's tracks table."""
    return pipeline_tracks.track_files(genome_cfg(wildcards)["tracks"])


def all_targets():
    """Everything `snakemake` builds by default."""
    return (
        expand("results/{genome}/data.h5", genome=GENOMES)
        + model_targets()
        + plot_targets()
        + variant_targets()
        + contributions_targets()
        + interpret_targets()
    )
