"""Ground-truth tables of a simulated genome, computed exactly with the oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.simulate.genomes import GenomeSpec
from enformer_lite.simulate.motifs import Motif
from enformer_lite.simulate.oracle import OracleResult
from enformer_lite.simulate.planting import ChromosomeLayout
from enformer_lite.simulate.variants import Variant

REGULATION_FRACTION = 0.05
"""An element regulates a gene if removing it lowers the gene's expected CAGE by at
least this fraction in some cell type where the gene reaches ``MIN_CAGE``."""
MIN_CAGE = 10.0
PROMOTER_RADIUS = 1_000
"""A variant within this many bp of a TSS is a promoter variant of that gene."""


def gene_table(spec: GenomeSpec, layouts: list[ChromosomeLayout], results: list[OracleResult]) -> pd.DataFrame:
    """One row per gene: position, planted design and the oracle's expectations."""
    frames = []
    for layout, result in zip(layouts, results):
        frame = pd.DataFrame(
            {
                "gene": [g.id for g in layout.genes],
                "chrom": layout.name,
                "tss": [g.tss for g in layout.genes],
                "strand": ["+" if g.strand > 0 else "-" for g in layout.genes],
                "program": [g.program for g in layout.genes],
                "promoter_class": [g.promoter_class for g in layout.genes],
                "n_enhancers": [g.n_enhancers for g in layout.genes],
            }
        )
        for c, cell in enumerate(spec.cell_types):
            frame[f"cage_{cell}"] = result.cage[:, c]
            frame[f"promoter_{cell}"] = result.promoter[:, c]
            frame[f"enhancer_input_{cell}"] = result.enhancer_input[:, c]
            frame[f"distal_share_{cell}"] = result.distal_share[:, c]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def element_table(layouts: list[ChromosomeLayout]) -> pd.DataFrame:
    """One row per candidate element with its planted design."""
    rows = [
        {
            "element": e.id,
            "chrom": e.chrom,
            "start": e.start,
            "end": e.end,
            "kind": e.kind,
            "program": e.program,
            "planted_for": e.planted_for,
            "sites": ";".join(f"{s.tf}:{s.start}:{'+' if s.strand > 0 else '-'}" for s in e.sites),
        }
        for layout in layouts
        for e in layout.elements
    ]
    return pd.DataFrame(rows, columns=["element", "chrom", "start", "end", "kind", "program", "planted_for", "sites"])


def motif_table(layouts: list[ChromosomeLayout], motifs: tuple[Motif, ...]) -> pd.DataFrame:
    """One row per planted binding site: motif (TF name), chrom, start, end (0-based, half-open), strand, element."""
    lengths = {m.name: m.length for m in motifs}
    rows = [
        (s.tf, e.chrom, s.start, s.start + lengths[s.tf], "+" if s.strand > 0 else "-", e.id)
        for layout in layouts
        for e in layout.elements
        for s in e.sites
    ]
    return pd.DataFrame(rows, columns=["motif", "chrom", "start", "end", "strand", "element"])


def enhancer_gene_table(spec: GenomeSpec, layouts: list[ChromosomeLayout], results: list[OracleResult]) -> pd.DataFrame:
    """Every (element, gene) pair within the contact reach, with the exact effect of
    replacing the element by N. Pairs where the element holds the gene's TSS are left out."""
    rows = []
    cells = spec.cell_types
    for layout, result in zip(layouts, results):
        reach = result.oracle.config.max_distance
        for element in layout.elements:
            effect = result.element_effect(element.start, element.end)
            centre = (element.start + element.end) // 2
            for i, g in enumerate(effect.gene_index.tolist()):
                tss = int(result.genes.tss[g])
                distance = abs(centre - tss)
                if element.start <= tss < element.end or distance > reach:
                    continue
                ref, delta = effect.cage_ref[i], effect.cage_delta[i]
                row = {
                    "element": element.id,
                    "gene": result.genes.ids[g],
                    "chrom": layout.name,
                    "start": element.start,
                    "end": element.end,
                    "kind": element.kind,
                    "distance": distance,
                }
                for c, cell in enumerate(cells):
                    row[f"cage_{cell}"] = ref[c]
                    row[f"delta_{cell}"] = delta[c]
                row["regulates"] = bool(np.any((ref >= MIN_CAGE) & (-delta >= REGULATION_FRACTION * ref)))
                rows.append(row)
    columns = ["element", "gene", "chrom", "start", "end", "kind", "distance"]
    columns += [f"{p}_{c}" for c in cells for p in ("cage", "delta")] + ["regulates"]
    return pd.DataFrame(rows, columns=columns)


def variant_table(
    spec: GenomeSpec,
    layouts: list[ChromosomeLayout],
    results: list[OracleResult],
    variants: list[Variant],
    bin_size: int,
) -> pd.DataFrame:
    """Every (variant, alt allele, gene in reach) with the exact effects.

    CAGE columns hold the gene's expected counts at its TSS in each CAGE track
    (0 in a stranded track of the other strand); bin columns hold each other
    track's expected value in the bin of the variant's first REF base.
    """
    tracks = [t.spec for t in spec.tracks]
    cell_index = {c: i for i, c in enumerate(spec.cell_types)}
    cage_tracks = [t for t in tracks if t.assay == "CAGE"]
    bin_tracks = [(j, t) for j, t in enumerate(tracks) if t.assay != "CAGE"]
    by_chrom = {layout.name: (layout, result) for layout, result in zip(layouts, results)}
    rows = []
    for v in variants:
        layout, result = by_chrom[v.chrom]
        in_element = _touches_element(layout, v.pos, v.pos + len(v.ref))
        for alt in v.alts:
            effect = result.variant_effect(v.pos, v.ref, alt, bin_size)
            base = {"variant": v.id, "chrom": v.chrom, "pos": v.pos + 1, "ref": v.ref, "alt": alt, "site": v.site}
            bins = {}
            for j, t in bin_tracks:
                bins[f"bin_ref_{t.id}"] = effect.bin_ref[j]
                bins[f"bin_delta_{t.id}"] = effect.bin_alt[j] - effect.bin_ref[j]
            genes = effect.gene_index.tolist()
            if not genes:
                rows.append({**base, "gene": ".", "distance": np.nan, "category": "background", **bins})
            for i, g in enumerate(genes):
                tss = int(result.genes.tss[g])
                strand = int(result.genes.strand[g])
                distance = abs(tss - v.pos)
                if distance <= PROMOTER_RADIUS:
                    category = "promoter"
                elif in_element:
                    category = "proximal" if distance <= result.oracle.config.distal_distance else "distal"
                else:
                    category = "background"
                row = {**base, "gene": result.genes.ids[g], "distance": distance, "category": category}
                for t in cage_tracks:
                    on_strand = t.strand == "." or (t.strand == "+") == (strand > 0)
                    c = cell_index[t.cell_type]
                    row[f"cage_ref_{t.id}"] = effect.cage_ref[i, c] if on_strand else 0.0
                    row[f"cage_delta_{t.id}"] = effect.cage_delta[i, c] if on_strand else 0.0
                rows.append({**row, **bins})
    columns = ["variant", "chrom", "pos", "ref", "alt", "site", "gene", "distance", "category"]
    columns += [f"cage_{p}_{t.id}" for t in cage_tracks for p in ("ref", "delta")]
    columns += [f"bin_{p}_{t.id}" for _, t in bin_tracks for p in ("ref", "delta")]
    return pd.DataFrame(rows, columns=columns)


def _touches_element(layout: ChromosomeLayout, start: int, end: int) -> bool:
    """Whether [start, end) overlaps a candidate element (elements sorted by start)."""
    starts = np.array([e.start for e in layout.elements])
    ends = np.array([e.end for e in layout.elements])
    before = np.searchsorted(starts, end)  # elements starting before ``end``
    return bool(before and ends[:before].max() > start)


def write_table(path: str | Path, frame: pd.DataFrame) -> None:
    """Write a TSV atomically (6 significant digits for floats)."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def readme(spec: GenomeSpec, has_variants: bool) -> str:
    """The truth/README.md text for one genome."""
    cells = ", ".join(spec.cell_types)
    tracks = "\n".join(f"- `{t.spec.id}`: {t.description}" for t in spec.tracks)
    variants = (
        """
## variants.tsv

One row per variant, ALT allele and gene whose TSS lies within the contact reach
(150 kb) of the change; a variant with no gene in reach has one row with gene `.`.

- `variant`, `chrom`, `pos` (1-based, as in the VCF), `ref`, `alt`.
- `site`: where the variant was placed (promoter, enhancer, insulator, background).
- `gene`, `distance`: gene id and |TSS - first REF base| in bp.
- `category`: `promoter` if within 1 kb of this gene's TSS; else `proximal` (<= 20 kb)
  or `distal` (> 20 kb) if the variant touches a candidate element; else `background`.
- `cage_ref_<track>`, `cage_delta_<track>`: the gene's expected CAGE counts at its TSS
  in that CAGE track (sum over the TSS peak) and their exact change (alt - ref); 0 in
  a stranded track of the other strand.
- `bin_ref_<track>`, `bin_delta_<track>`: expected value of each DNase/ATAC/ChIP track
  in the 128-bp bin holding the first REF base (sum of per-base signal), and its change.
"""
        if has_variants
        else ""
    )
    return f"""# Ground truth of the simulated {spec.name} genome

The simulated genome is generated together with an exact oracle: a deterministic
function from DNA sequence to expected track values (module
`enformer_lite.simulate.oracle`, formulas in its docstring). Motif occupancy of real
JASPAR matrices drives element activity per cell type ({cells}); promoters times
enhancer input weighted by a distance-decaying, insulator-blocked contact give CAGE at
each TSS. Every number below is computed by the oracle on the generated sequence, so
effects of edits are exact, not estimates. Observed bigWigs are noisy samples of the
expected signal.

Tracks:
{tracks}

Expected values are sums of per-base signal; CAGE is in expected counts at the TSS.

## genes.tsv

- `gene`, `chrom`, `tss` (0-based), `strand`.
- `program`: the enhancer program the gene was planted with (`none`: no enhancers);
  `promoter_class`: the planted promoter design; `n_enhancers`: enhancers planted for it.
- `cage_<cell>`: expected CAGE counts at the TSS in that cell type.
- `promoter_<cell>`: promoter activity P in [0, 1).
- `enhancer_input_<cell>`: enhancer input I (CAGE = 500 * P * (0.1 + I)).
- `distal_share_<cell>`: share of (0.1 + I) contributed by active positions farther
  than 20 kb from the TSS.

## elements.tsv

Every candidate element of `candidates.bed`: `element`, `chrom`, `start`, `end`
(0-based, half-open), `kind` (promoter, enhancer, insulator, decoy), `program`
(enhancer program, empty if none), `planted_for` (gene the element was planted
for, empty for background insulators and decoys) and `sites` (planted binding
sites as `TF:start:strand`, `;`-separated). Decoys are random stretches, half of
them with a single bound site, too weak to act alone.

## motifs.tsv

Every planted binding site (the `sites` of elements.tsv, one per row): `motif` (TF name of
the JASPAR matrix), `chrom`, `start`, `end` (0-based, half-open; the matrix length), `strand`,
`element`. Motif occurrences that arise by chance in background DNA are not listed.

## enhancer_gene.tsv

Every (element, gene) pair with the gene's TSS within 150 kb of the element centre,
except an element holding the gene's own TSS.

- `element`, `gene`, `chrom`, `start`, `end`, `kind`; `distance`: |element centre - TSS|.
- `cage_<cell>`: the gene's expected CAGE; `delta_<cell>`: exact change when the
  element is replaced by N (negative: the element activates the gene).
- `regulates`: True if removing the element lowers the gene's expected CAGE by at
  least {REGULATION_FRACTION:.0%} in at least one cell type where the gene has at
  least {MIN_CAGE:g} expected counts.
{variants}"""
