"""Simulated variants: where they fall, their alleles, and the VCF (bgzip + tabix)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from enformer_lite.atomic import atomic_output
from enformer_lite.data.sequence import N_CODE, decode
from enformer_lite.simulate.planting import ChromosomeLayout

SITE_KINDS = ("promoter", "enhancer", "insulator", "background")


@dataclass(frozen=True)
class VariantConfig:
    """Knobs of the variant design."""

    per_mb: float = 80.0
    site_mix: tuple[float, float, float, float] = (0.15, 0.35, 0.05, 0.45)  # SITE_KINDS
    in_motif: float = 0.6  # share of element variants placed inside a planted site
    multiallelic: float = 0.03
    insertion: float = 0.03
    deletion: float = 0.03
    max_indel: int = 10


@dataclass(frozen=True)
class Variant:
    """One VCF record: ``pos`` is the 0-based start of REF; ``alts`` one or more alleles."""

    id: str
    chrom: str
    pos: int
    ref: str
    alts: tuple[str, ...]
    site: str


def design_variants(layout: ChromosomeLayout, n: int, cfg: VariantConfig, rng: np.random.Generator) -> list[Variant]:
    """Draw about ``n`` non-overlapping variants on one chromosome (ids left empty).

    REF is read from the chromosome's codes (upper case); no REF touches an N.
    """
    codes = layout.codes
    length = codes.shape[0]
    taken = np.zeros(length + 1, dtype=bool)
    by_kind = {k: [e for e in layout.elements if e.kind == k] for k in ("promoter", "enhancer", "insulator")}
    in_element = np.zeros(length, dtype=bool)
    for e in layout.elements:
        in_element[e.start : e.end] = True
    mix = np.array(cfg.site_mix) / sum(cfg.site_mix)
    out: list[Variant] = []
    for _ in range(n * 20):
        if len(out) >= n:
            break
        kind = SITE_KINDS[int(rng.choice(len(SITE_KINDS), p=mix))]
        if kind == "background":
            pos = int(rng.integers(1, length - cfg.max_indel - 2))
            if in_element[pos]:
                continue
        else:
            pool = by_kind[kind]
            if not pool:
                continue
            element = pool[int(rng.integers(len(pool)))]
            if element.sites and rng.random() < cfg.in_motif:
                site = element.sites[int(rng.integers(len(element.sites)))]
                pos = site.start + int(rng.integers(0, 8))
            else:
                pos = int(rng.integers(element.start, element.end))
        variant = _alleles(codes, pos, kind, cfg, rng)
        if variant is None:
            continue
        start, stop = variant.pos, variant.pos + len(variant.ref)
        if taken[start - 1 : stop + 1].any():
            continue
        taken[start:stop] = True
        out.append(variant)
    out.sort(key=lambda v: v.pos)
    return [Variant("", layout.name, v.pos, v.ref, v.alts, v.site) for v in out]


def _alleles(codes: np.ndarray, pos: int, kind: str, cfg: VariantConfig, rng: np.random.Generator) -> Variant | None:
    """A SNP (sometimes multi-allelic) or an anchored indel at ``pos``; None where REF would hit N."""
    u = rng.random()
    if u < cfg.insertion + cfg.deletion:
        size = int(rng.integers(1, cfg.max_indel + 1))
        anchor = pos - 1
        if u < cfg.insertion:
            ref_codes = codes[anchor : anchor + 1]
            inserted = decode(rng.integers(0, 4, size))
            alts = (decode(ref_codes) + inserted,)
        else:
            ref_codes = codes[anchor : anchor + size + 1]
            alts = (decode(ref_codes[:1]),)
        if (ref_codes == N_CODE).any() or ref_codes.shape[0] == 0:
            return None
        return Variant("", "", anchor, decode(ref_codes), alts, kind)
    if codes[pos] == N_CODE:
        return None
    ref = decode(codes[pos : pos + 1])
    n_alts = 2 if rng.random() < cfg.multiallelic / (1.0 - cfg.insertion - cfg.deletion) else 1
    others = [b for b in "ACGT" if b != ref]
    picks = rng.choice(3, size=n_alts, replace=False)
    return Variant("", "", pos, ref, tuple(others[int(i)] for i in sorted(picks)), kind)


def write_vcf(path: str | Path, variants: list[Variant], contigs: list[tuple[str, int]], reference: str) -> None:
    """Write a sites-only VCFv4.2, bgzip-compressed and tabix-indexed (``.tbi``), atomically.

    ``variants`` must be sorted by contig (in ``contigs`` order) and position.
    """
    order = {name: i for i, (name, _) in enumerate(contigs)}
    keys = [(order[v.chrom], v.pos) for v in variants]
    if keys != sorted(keys):
        raise ValueError(f"{path}: variants are not sorted by contig and position")
    lines = [
        "##fileformat=VCFv4.2",
        "##source=enformer-lite simulate",
        f"##reference={reference}",
        *[f"##contig=<ID={name},length={length}>" for name, length in contigs],
        '##INFO=<ID=SITE,Number=1,Type=String,Description="Where the variant was placed: promoter, enhancer, '
        + 'insulator or background">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    lines += [f"{v.chrom}\t{v.pos + 1}\t{v.id}\t{v.ref}\t{','.join(v.alts)}\t.\tPASS\tSITE={v.site}" for v in variants]
    path = Path(path)
    with atomic_output(path) as tmp:
        plain = tmp.with_name(tmp.name + ".vcf")
        plain.write_text("\n".join(lines) + "\n")
        try:
            pysam.tabix_compress(str(plain), str(tmp), force=True)
        finally:
            plain.unlink()
        tbi = Path(f"{tmp}.tbi")
        pysam.tabix_index(str(tmp), preset="vcf", force=True, index=str(tbi))
    tbi.replace(f"{path}.tbi")
