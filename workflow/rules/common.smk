# Shared helpers: config validation and the paths each stage produces.
from snakemake.utils import validate

from enformer_lite.errors import InputError
from enformer_lite.windows import WindowSpec


validate(config, "../schemas/config.schema.yaml", set_default=True)


include: "resources.smk"

try:
    WINDOW_SPEC = WindowSpec(**config["windows"])
except InputError as err:
    raise ValueError(f"bad config: {err}") from err

GENOMES = list(config["genomes"])
SIM = config["simulate"]


def genome_cfg(wildcards):
    """The config block of the genome named by the wildcard."""
    return config["genomes"][wildcards.genome]


def window_args():
    """Window-geometry flags for the CLI, from config."""
    w = config["windows"]
    return (
        f"--length {w['length']} --stride {w['stride']} --bin-size {w['bin_size']} "
        f"--target-length {w['target_length']} --max-n-fraction {w['max_n_fraction']}"
    )


def window_chroms(wildcards):
    """Chromosomes with at least one window, in windows.bed order (after the checkpoint)."""
    bed = checkpoints.windows.get(genome=wildcards.genome).output.bed
    chroms = []
    with open(bed) as handle:
        for line in handle:
            chrom = line.split("\t", 1)[0]
            if chrom and chrom not in chroms:
                chroms.append(chrom)
    return chroms


def extract_parts(wildcards):
    """Per-chromosome HDF5 parts of a genome."""
    return expand(
        "results/{genome}/parts/{chrom}.h5", genome=wildcards.genome, chrom=window_chroms(wildcards)
    )


def track_files(wildcards):
    """bigWig files named in the genome's tracks table."""
    import csv

    with open(genome_cfg(wildcards)["tracks"], newline="") as handle:
        return [row["file"] for row in csv.DictReader(handle, delimiter="\t")]


def all_targets():
    """Everything `snakemake` builds by default."""
    return expand("results/{genome}/data.h5", genome=GENOMES) + model_targets() + plot_targets() + variant_targets() + contributions_targets()
