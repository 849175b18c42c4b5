"""Planting genes, promoters, enhancers, insulators and decoys into background DNA.

Sites are drawn from the JASPAR matrices, conditioned on scoring at least
``site_margin_bits`` above the oracle's occupancy midpoint, so a planted site is
bound; whether an element is active in a cell type is left to the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import reverse_complement
from enformer_lite.simulate.background import Background, random_bases
from enformer_lite.simulate.genomes import GenomeSpec
from enformer_lite.simulate.motifs import SCORE_UNITS, sample_site
from enformer_lite.simulate.oracle import Oracle


@dataclass(frozen=True)
class PlantingConfig:
    """Knobs of the planting step."""

    genes_per_mb: tuple[float, float] = (8.0, 15.0)  # drawn per chromosome
    min_gene_spacing: int = 10_000
    gap_margin: int = 20_000  # nothing is planted this close to an N gap or a chromosome end
    cpg_island_fraction: float = 0.6
    enhancers_per_gene: float = 2.6  # Poisson mean, genes with a program
    max_enhancers_per_gene: int = 6
    # distance classes of enhancers: (probability, low, high) in bp from the TSS
    distance_classes: tuple[tuple[float, int, int], ...] = (
        (0.45, 2_000, 20_000),
        (0.45, 20_000, 100_000),
        (0.1, 100_000, 150_000),
    )
    enhancer_length: tuple[int, int] = (300, 500)
    motifs_per_enhancer: tuple[int, int] = (2, 4)
    own_program_fraction: float = 0.75
    insulators_per_mb: float = 10.0
    insulated_fraction: float = 0.35  # genes with a distal enhancer that get a CTCF site in between
    decoys_per_mb: float = 8.0
    site_margin_bits: float = 1.0


@dataclass(frozen=True)
class Site:
    """A planted binding site: TF name, 0-based start, strand (+1/-1)."""

    tf: str
    start: int
    strand: int


@dataclass(eq=False)
class Gene:
    """A planted gene (one TSS). ``program`` is its enhancer program or "none"."""

    id: str
    chrom: str
    tss: int
    strand: int
    program: str
    promoter_class: str
    n_enhancers: int = 0


@dataclass(eq=False)
class Element:
    """A candidate regulatory element: kind is promoter, enhancer, insulator or decoy."""

    id: str
    chrom: str
    start: int
    end: int
    kind: str
    program: str
    planted_for: str  # gene id the element was planted for, or ""
    sites: list[Site] = field(default_factory=list)


@dataclass(eq=False)
class ChromosomeLayout:
    """A finished chromosome: sequence, soft mask, gaps, genes and elements."""

    name: str
    codes: npt.NDArray[np.uint8]
    masked: npt.NDArray[np.bool_]
    gaps: list[tuple[int, int]]
    genes: list[Gene]
    elements: list[Element]


# Promoter classes: TFs planted in gene-relative slots (TBP always at the TATA slot).
_PROMOTER_CLASSES = {
    "cpg_strong": ("SP1", "SP1", "NFYA", "ELK1"),
    "cpg_medium": ("SP1", "NFYA"),
    "tata": ("TBP", "NFYA", "*"),
    "tissue": ("TBP", "*", "*"),
    "weak": ("YY1", "ELK1"),
}
_HOUSEKEEPING = {"cpg_strong": 0.5, "cpg_medium": 0.4, "weak": 0.1}
_REGULATED = {"cpg_strong": 0.15, "cpg_medium": 0.3, "tata": 0.25, "tissue": 0.15, "weak": 0.15}
_SLOTS = (-140, -115, -90, -65, 3)  # gene-relative starts of non-TATA promoter sites
_TATA_SLOT = -33


class _Sampler:
    """Draws bound binding sites of any TF of the oracle."""

    def __init__(self, oracle: Oracle, margin_bits: float) -> None:
        cfg = oracle.config
        self._by_name = {}
        for k, motif in enumerate(oracle.params.motifs):
            log_odds = oracle.log_odds[k]
            minimum = min(int(oracle.thresholds[k] + margin_bits * SCORE_UNITS), int(log_odds.max(axis=1).sum()))
            self._by_name[motif.name] = (log_odds, motif.probabilities(cfg.pseudo, cfg.background), minimum)

    def length(self, tf: str) -> int:
        return int(self._by_name[tf][0].shape[0])

    def draw(self, tf: str, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
        log_odds, probs, minimum = self._by_name[tf]
        return sample_site(log_odds, probs, minimum, rng)


class _Planter:
    """Mutable state while planting one chromosome."""

    def __init__(
        self,
        name: str,
        bg: Background,
        spec: GenomeSpec,
        sampler: _Sampler,
        cfg: PlantingConfig,
        rng: np.random.Generator,
    ):
        self.name, self.spec, self.sampler, self.cfg, self.rng = name, spec, sampler, cfg, rng
        self.codes = bg.codes.copy()
        self.masked = bg.masked.copy()
        self.gaps = bg.gaps
        n = self.codes.shape[0]
        # bases where nothing may be planted: near gaps and chromosome ends, and used bases
        self.blocked = np.zeros(n, dtype=bool)
        m = cfg.gap_margin
        self.blocked[:m] = True
        self.blocked[n - m :] = True
        for s, e in bg.gaps:
            self.blocked[max(0, s - m) : e + m] = True
        self.genes: list[Gene] = []
        self.elements: list[Element] = []

    def free(self, start: int, end: int, margin: int = 200) -> bool:
        n = self.codes.shape[0]
        a, b = start - margin, end + margin
        return 0 <= a and b <= n and not self.blocked[a:b].any()

    def reserve(self, start: int, end: int, margin: int = 200) -> None:
        self.blocked[max(0, start - margin) : end + margin] = True

    def put_site(self, tf: str, start: int, strand: int) -> Site:
        site = self.sampler.draw(tf, self.rng)
        self.codes[start : start + site.shape[0]] = site if strand > 0 else reverse_complement(site)
        return Site(tf, start, strand)

    def program_tf(self, program: str) -> str:
        tfs = self.spec.programs[program]
        return tfs[int(self.rng.integers(len(tfs)))]

    # ------------------------------------------------------------------ genes
    def plant_genes(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = self.codes.shape[0]
        target = round(rng.uniform(*cfg.genes_per_mb) * n / 1e6)
        programs = list(self.spec.program_weights)
        weights = np.array([self.spec.program_weights[p] for p in programs])
        tss_taken: list[int] = []
        for _ in range(target * 50):
            if len(tss_taken) >= target:
                break
            t = int(rng.integers(0, n))
            if not self.free(t - 600, t + 600) or any(abs(t - u) < cfg.min_gene_spacing for u in tss_taken):
                continue
            strand = 1 if rng.random() < 0.5 else -1
            program = programs[int(rng.choice(len(programs), p=weights / weights.sum()))]
            self.plant_promoter(t, strand, program)
            tss_taken.append(t)

    def plant_promoter(self, t: int, strand: int, program: str) -> None:
        rng = self.rng
        table = _HOUSEKEEPING if program == "none" else _REGULATED
        names = list(table)
        klass = names[int(rng.choice(len(names), p=np.array(list(table.values())) / sum(table.values())))]
        if rng.random() < self.cfg.cpg_island_fraction and klass.startswith("cpg"):
            self.codes[t - 500 : t + 500] = random_bases(rng, 1000, 0.65)
            self.masked[t - 500 : t + 500] = False
        tfs = [self.program_tf(program) if tf == "*" else tf for tf in _PROMOTER_CLASSES[klass]]
        slots = list(rng.permutation(len(_SLOTS)))
        sites = []
        for tf in tfs:
            rel = _TATA_SLOT if tf == "TBP" else _SLOTS[slots.pop()]
            m = self.sampler.length(tf)
            start = t + rel if strand > 0 else t - rel - m + 1
            sites.append(self.put_site(tf, start, strand))
        lo, hi = (t - 300, t + 100) if strand > 0 else (t - 100, t + 301)
        self.reserve(lo, hi, margin=500)
        gene = Gene("", self.name, t, strand, program, klass)
        self.genes.append(gene)
        # planted_for holds "#<gene index>" until assign_ids resolves it
        self.elements.append(Element("", self.name, lo, hi, "promoter", program, f"#{len(self.genes) - 1}", sites))

    # ------------------------------------------------------------------ enhancers
    def plant_enhancers(self) -> None:
        cfg, rng = self.cfg, self.rng
        probs = np.array([c[0] for c in cfg.distance_classes])
        others = list(self.spec.programs)
        for g, gene in enumerate(self.genes):
            if gene.program == "none":
                continue
            wanted = min(int(rng.poisson(cfg.enhancers_per_gene)), cfg.max_enhancers_per_gene)
            for _ in range(wanted):
                for _attempt in range(30):
                    _, low, high = cfg.distance_classes[int(rng.choice(len(probs), p=probs / probs.sum()))]
                    distance = (
                        int(np.exp(rng.uniform(np.log(low), np.log(high))))
                        if high <= 20_000
                        else int(rng.integers(low, high))
                    )
                    length = int(rng.integers(*cfg.enhancer_length))
                    centre = gene.tss + (distance if rng.random() < 0.5 else -distance)
                    start = centre - length // 2
                    if self.free(start, start + length):
                        program = (
                            gene.program
                            if rng.random() < cfg.own_program_fraction
                            else others[int(rng.integers(len(others)))]
                        )
                        self.plant_enhancer(start, start + length, program, f"#{g}")
                        gene.n_enhancers += 1
                        break

    def plant_enhancer(self, start: int, end: int, program: str, planted_for: str) -> None:
        rng = self.rng
        n_sites = int(rng.integers(self.cfg.motifs_per_enhancer[0], self.cfg.motifs_per_enhancer[1] + 1))
        tfs = [self.program_tf(program) for _ in range(n_sites)]
        slot = (end - start) // n_sites
        sites = []
        for i, tf in enumerate(tfs):
            m = self.sampler.length(tf)
            offset = start + i * slot + int(rng.integers(0, max(slot - m, 1)))
            sites.append(self.put_site(tf, offset, 1 if rng.random() < 0.5 else -1))
        self.reserve(start, end)
        self.elements.append(Element("", self.name, start, end, "enhancer", program, planted_for, sites))

    # ------------------------------------------------------------------ insulators, decoys
    def plant_insulator(self, position: int, planted_for: str) -> bool:
        tf = "CTCF"
        m = self.sampler.length(tf)
        start, end = position - 10, position + m + 10
        if not self.free(start, end, margin=50):
            return False
        site = self.put_site(tf, position, 1 if self.rng.random() < 0.5 else -1)
        self.reserve(start, end, margin=50)
        self.elements.append(Element("", self.name, start, end, "insulator", "", planted_for, [site]))
        return True

    def plant_insulators(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = self.codes.shape[0]
        for _ in range(int(rng.poisson(cfg.insulators_per_mb * n / 1e6))):
            for _attempt in range(20):
                if self.plant_insulator(int(rng.integers(0, n)), ""):
                    break
        by_gene: dict[str, list[Element]] = {}
        for e in self.elements:
            if e.kind == "enhancer":
                by_gene.setdefault(e.planted_for, []).append(e)
        for g, gene in enumerate(self.genes):
            distal = [e for e in by_gene.get(f"#{g}", []) if abs((e.start + e.end) // 2 - gene.tss) > 20_000]
            if not distal or rng.random() >= cfg.insulated_fraction:
                continue
            e = distal[int(rng.integers(len(distal)))]
            lo, hi = sorted((gene.tss, (e.start + e.end) // 2))
            for _attempt in range(20):
                if self.plant_insulator(int(rng.integers(lo + 3_000, hi - 3_000)), f"#{g}"):
                    break

    def plant_decoys(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = self.codes.shape[0]
        programs = list(self.spec.programs)
        for i in range(int(rng.poisson(cfg.decoys_per_mb * n / 1e6))):
            for _attempt in range(20):
                length = int(rng.integers(*cfg.enhancer_length))
                start = int(rng.integers(0, n - length))
                if self.free(start, start + length):
                    sites = []
                    if i % 2:  # half carry a single site: bound, but alone too weak to act
                        tf = self.program_tf(programs[int(rng.integers(len(programs)))])
                        pos = start + int(rng.integers(0, length - self.sampler.length(tf)))
                        sites.append(self.put_site(tf, pos, 1))
                    self.reserve(start, start + length)
                    self.elements.append(Element("", self.name, start, start + length, "decoy", "", "", sites))
                    break


def plant_chromosome(
    name: str,
    bg: Background,
    spec: GenomeSpec,
    oracle: Oracle,
    cfg: PlantingConfig,
    rng: np.random.Generator,
) -> ChromosomeLayout:
    """Plant genes with promoters, enhancers, insulators and decoys into ``bg``.

    Gene and element ids are left empty (``planted_for`` holds ``"#<gene index>"``);
    :func:`assign_ids` fills them once all chromosomes exist.
    """
    planter = _Planter(name, bg, spec, _Sampler(oracle, cfg.site_margin_bits), cfg, rng)
    planter.plant_genes()
    planter.plant_enhancers()
    planter.plant_insulators()
    planter.plant_decoys()
    order = np.argsort([g.tss for g in planter.genes], kind="stable")
    genes = [planter.genes[i] for i in order]
    rename = {f"#{int(old)}": f"#{new}" for new, old in enumerate(order)}
    elements = sorted(planter.elements, key=lambda e: (e.start, e.end))
    for e in elements:
        e.planted_for = rename.get(e.planted_for, e.planted_for)
    return ChromosomeLayout(name, planter.codes, planter.masked, planter.gaps, genes, elements)


def assign_ids(layouts: list[ChromosomeLayout], prefix: str) -> None:
    """Give genes ids ``{prefix}G00001``... and elements ``{prefix}E000001``... in
    chromosome then position order, resolving ``planted_for`` references."""
    n_gene = n_element = 0
    for layout in layouts:
        local = {}
        for i, gene in enumerate(layout.genes):
            n_gene += 1
            gene.id = f"{prefix}G{n_gene:05d}"
            local[f"#{i}"] = gene.id
        for element in layout.elements:
            n_element += 1
            element.id = f"{prefix}E{n_element:06d}"
            element.planted_for = local.get(element.planted_for, element.planted_for)
