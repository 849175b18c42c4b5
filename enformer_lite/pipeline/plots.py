"""The figure rules' loci, locus regions, outputs and targets (``plots:`` config).

``produced`` arguments answer, for a path, whether some rule of the workflow writes it (Snakemake
knows; figures are requested only for results the workflow makes).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from typing import Any

PLOT_FORMATS = ("png", "pdf")
"""Every figure is written in each of these formats."""

MODEL_CKPT = "results/model/best.ckpt"
"""The checkpoint the track figures draw predictions of."""

def vcf_genome(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The genome config block of the configured VCF ``name``."""
    return config["genomes"][config["variants"]["vcfs"][name]["genome"]]


def configured_loci_flags(config: Mapping[str, Any], genome: str) -> str:
    """``--region NAME=chrom:start-end`` flags for the loci configured for ``genome``."""
    return " ".join(f"--region {shlex.quote(item)}" for item in config["plots"]["loci"].get(genome, []))


def locus_figures(genome: str, table: str | os.PathLike[str]) -> list[str]:
    """Track figures of every locus in a genome's loci table."""
    from enformer_lite.plots.loci import read_loci

    return [
        f"results/plots/{genome}/tracks/{entry.name}.{fmt}" for entry in read_loci(table) for fmt in PLOT_FORMATS
    ]


def figure_files(path: str, key: str = "", **labels: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Output name (``{key}png``, ``{key}pdf``) → (file, report labels) of one figure."""
    return {f"{key}{fmt}": (f"{path}.{fmt}", {**labels, "format": fmt.upper()}) for fmt in PLOT_FORMATS}


def plot_targets(config: Mapping[str, Any], produced: Callable[[str], bool]) -> list[str]:
    """Figures requested by ``snakemake``, except the per-locus track figures (which depend on the
    loci tables, see :func:`locus_figures_wanted`); none when plots.enabled is false."""
    if not config["plots"]["enabled"]:
        return []
    genomes = config["genomes"]
    out: list[str] = []
    if produced("results/model/metrics.csv"):
        out += [f"results/plots/training.{fmt}" for fmt in PLOT_FORMATS]
    if all(produced(f"results/eval/{g}.tsv") for g in genomes):
        out += [f"results/plots/accuracy.{fmt}" for fmt in PLOT_FORMATS]
    with_genes = [g for g in genomes if genomes[g].get("genes") and produced(f"results/eval/{g}.tss.tsv")]
    out += [f"results/plots/{g}/tss_scatter.{fmt}" for g in with_genes for fmt in PLOT_FORMATS]
    variants = config.get("variants") or {}
    if variants.get("enabled"):
        names = [n for n in variants.get("vcfs", {}) if produced(f"results/variants/{n}.h5")]
        out += [
            f"results/plots/variants/{n}/{figure}.{fmt}"
            for n in names
            for figure in ("strongest", "scores")
            for fmt in PLOT_FORMATS
        ]
    contributions = config.get("contributions") or {}
    if contributions.get("enabled"):
        scored = [
            g
            for g in genomes
            if genomes[g].get("genes")
            and genomes[g].get("candidates")
            and produced(f"results/contributions/{g}.enhancer_gene.tsv")
        ]
        out += [f"results/plots/contributions/{g}.{fmt}" for g in scored for fmt in PLOT_FORMATS]
    return out


def locus_figures_wanted(config: Mapping[str, Any], produced: Callable[[str], bool]) -> bool:
    """Whether ``snakemake`` asks for the track figures of the loci (plots enabled, model made)."""
    return bool(config["plots"]["enabled"]) and produced(MODEL_CKPT)
