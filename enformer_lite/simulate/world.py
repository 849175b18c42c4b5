"""Generate the simulated demo world (two genomes with tracks, genes, candidate
elements, variants and exact ground truth), deterministically from a seed.

Layout under ``outdir``::

    {genome}.fa, {genome}.fa.fai
    {genome}/tracks.tsv, {genome}/{track}.bw, {genome}/genes.bed, {genome}/candidates.bed
    human/variants.vcf.gz, human/variants.vcf.gz.tbi
    {genome}/truth/genes.tsv, elements.tsv, motifs.tsv, enhancer_gene.tsv, variants.tsv (human), README.md
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enformer_lite.errors import InputError
from enformer_lite.simulate import truth
from enformer_lite.simulate.background import BackgroundConfig, make_background, repeat_families
from enformer_lite.simulate.genomes import GENOMES, GenomeSpec
from enformer_lite.simulate.observe import NoiseConfig, write_observed_bigwigs
from enformer_lite.simulate.oracle import GeneSet, Oracle, OracleConfig, OracleResult
from enformer_lite.simulate.outputs import tracks_table, write_candidates_bed, write_fasta, write_genes_bed, write_text
from enformer_lite.simulate.planting import ChromosomeLayout, PlantingConfig, assign_ids, plant_chromosome
from enformer_lite.simulate.variants import Variant, VariantConfig, design_variants, write_vcf

log = logging.getLogger(__name__)

MB = 1_000_000


@dataclass(frozen=True)
class WorldSize:
    """Chromosome lengths (bp, before a small seeded jitter) of each genome."""

    name: str
    human: tuple[int, ...]
    mouse: tuple[int, ...]


SIZES: dict[str, WorldSize] = {
    "tiny": WorldSize("tiny", (1_200_000, 1_000_000), (1_000_000,)),
    "ci": WorldSize("ci", (1_600_000, 1_400_000, 1_100_000, 1_000_000), (1_200_000, 1_000_000, 1_000_000)),
    "demo": WorldSize(
        "demo",
        tuple(int(x * MB) for x in (5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0)),
        tuple(int(x * MB) for x in (4.0, 3.5, 3.0, 2.5, 2.0)),
    ),
    "bench": WorldSize(
        "bench",
        tuple(int(x * MB) for x in (16.5, 15.0, 13.5, 12.0, 10.5, 9.0, 7.5, 6.0)),
        tuple(int(x * MB) for x in (12.0, 10.5, 9.0, 7.5, 6.0)),
    ),
}


@dataclass(frozen=True)
class WorldConfig:
    """Every knob of the generator."""

    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    planting: PlantingConfig = field(default_factory=PlantingConfig)
    variants: VariantConfig = field(default_factory=VariantConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    bin_size: int = 128  # bins of the truth tables
    length_jitter: int = 5_000  # chromosome lengths get up to this many extra bases
    variant_genomes: tuple[str, ...] = ("human",)


@dataclass(eq=False)
class GenomeWorld:
    """One generated genome with its oracle results (one per chromosome)."""

    spec: GenomeSpec
    oracle: Oracle
    layouts: list[ChromosomeLayout]
    results: list[OracleResult]
    variants: list[Variant]

    @property
    def contigs(self) -> list[tuple[str, int]]:
        return [(lay.name, int(lay.codes.shape[0])) for lay in self.layouts]


# Independent random streams: default_rng([seed, genome, stream, chromosome]).
_REPEATS, _BACKGROUND, _PLANTING, _VARIANTS, _NOISE, _LENGTHS = range(6)


def _rng(seed: int, genome: int, stream: int, chrom: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, genome, stream, chrom])


def build_genome(
    spec: GenomeSpec, genome_index: int, lengths: tuple[int, ...], seed: int, cfg: WorldConfig
) -> GenomeWorld:
    """Generate one genome's sequence, layout, oracle results and variants in memory."""
    oracle = Oracle(spec.oracle_params(config=cfg.oracle))
    families = repeat_families(_rng(seed, genome_index, _REPEATS))
    jitter = _rng(seed, genome_index, _LENGTHS).integers(0, cfg.length_jitter + 1, len(lengths))
    layouts = []
    for i, (length, extra) in enumerate(zip(lengths, jitter.tolist())):
        bg = make_background(length + extra, _rng(seed, genome_index, _BACKGROUND, i), families, cfg.background)
        layouts.append(
            plant_chromosome(f"chr{i + 1}", bg, spec, oracle, cfg.planting, _rng(seed, genome_index, _PLANTING, i))
        )
    assign_ids(layouts, spec.prefix)
    results = []
    for layout in layouts:
        genes = GeneSet(
            tuple(g.id for g in layout.genes),
            np.array([g.tss for g in layout.genes], dtype=np.int64),
            np.array([g.strand for g in layout.genes], dtype=np.int8),
        )
        results.append(oracle.evaluate(layout.codes, genes))
    variants: list[Variant] = []
    if spec.name in cfg.variant_genomes:
        for i, layout in enumerate(layouts):
            n = round(cfg.variants.per_mb * layout.codes.shape[0] / MB)
            variants += design_variants(layout, n, cfg.variants, _rng(seed, genome_index, _VARIANTS, i))
        variants = [
            Variant(f"{spec.prefix.lower()}v{i + 1:06d}", v.chrom, v.pos, v.ref, v.alts, v.site)
            for i, v in enumerate(variants)
        ]
    return GenomeWorld(spec, oracle, layouts, results, variants)


def write_genome(world: GenomeWorld, genome_index: int, outdir: str, seed: int, cfg: WorldConfig) -> None:
    """Write every file of one genome under ``outdir`` (see the module docstring)."""
    name = world.spec.name
    gdir = os.path.join(outdir, name)
    Path(gdir, "truth").mkdir(parents=True, exist_ok=True)
    write_fasta(os.path.join(outdir, f"{name}.fa"), world.layouts)
    write_text(os.path.join(gdir, "tracks.tsv"), tracks_table(world.spec.tracks, gdir))
    write_genes_bed(os.path.join(gdir, "genes.bed"), world.layouts)
    write_candidates_bed(os.path.join(gdir, "candidates.bed"), world.layouts)
    t0 = time.perf_counter()
    write_observed_bigwigs(
        [Path(gdir, f"{t.spec.id}.bw") for t in world.spec.tracks],
        [(lay.name, res) for lay, res in zip(world.layouts, world.results)],
        [t.spec.assay for t in world.spec.tracks],
        [_rng(seed, genome_index, _NOISE, i) for i in range(len(world.layouts))],
        cfg.noise,
    )
    log.info("%s: bigWigs written in %.1f s", name, time.perf_counter() - t0)
    if name in cfg.variant_genomes:
        write_vcf(os.path.join(gdir, "variants.vcf.gz"), world.variants, world.contigs, f"{name}.fa")
    t0 = time.perf_counter()
    tdir = os.path.join(gdir, "truth")
    truth.write_table(os.path.join(tdir, "genes.tsv"), truth.gene_table(world.spec, world.layouts, world.results))
    truth.write_table(os.path.join(tdir, "elements.tsv"), truth.element_table(world.layouts))
    truth.write_table(os.path.join(tdir, "motifs.tsv"), truth.motif_table(world.layouts, world.oracle.params.motifs))
    truth.write_table(
        os.path.join(tdir, "enhancer_gene.tsv"), truth.enhancer_gene_table(world.spec, world.layouts, world.results)
    )
    if name in cfg.variant_genomes:
        truth.write_table(
            os.path.join(tdir, "variants.tsv"),
            truth.variant_table(world.spec, world.layouts, world.results, world.variants, cfg.bin_size),
        )
    write_text(os.path.join(tdir, "README.md"), truth.readme(world.spec, name in cfg.variant_genomes))
    log.info("%s: truth tables written in %.1f s", name, time.perf_counter() - t0)


def simulate(
    size: str | WorldSize,
    seed: int,
    outdir: str,
    genomes: tuple[str, ...] = ("human", "mouse"),
    cfg: WorldConfig | None = None,
) -> dict[str, GenomeWorld]:
    """Generate and write the world; returns the in-memory genomes.

    Raises:
        InputError: for an unknown size or genome name.
    """
    cfg = cfg or WorldConfig()
    if isinstance(size, str):
        if size not in SIZES:
            raise InputError(f"unknown world size {size!r}; choose from {sorted(SIZES)}")
        size = SIZES[size]
    worlds = {}
    unknown = [name for name in genomes if name not in GENOMES]
    if unknown:
        raise InputError(f"unknown genome {unknown[0]!r}; choose from {sorted(GENOMES)}")
    for name in genomes:
        index = list(GENOMES).index(name)
        t0 = time.perf_counter()
        world = build_genome(GENOMES[name], index, getattr(size, name), seed, cfg)
        log.info(
            "%s: %d chromosomes, %d genes, %d elements built in %.1f s",
            name,
            len(world.layouts),
            sum(len(lay.genes) for lay in world.layouts),
            sum(len(lay.elements) for lay in world.layouts),
            time.perf_counter() - t0,
        )
        write_genome(world, index, outdir, seed, cfg)
        worlds[name] = world
    return worlds
