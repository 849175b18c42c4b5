"""The contribution stage's genomes, chromosomes, chunks and final outputs (``contributions:`` config)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from enformer_lite.pipeline.flags import settings_json


def contrib_genomes(config: Mapping[str, Any]) -> list[str]:
    """Genomes with genes and candidate elements configured (none when the stage is disabled)."""
    if not config["contributions"]["enabled"]:
        return []
    genomes = config["genomes"]
    return [g for g in genomes if genomes[g].get("genes") and genomes[g].get("candidates")]


def contrib_truth_genomes(config: Mapping[str, Any]) -> list[str]:
    """Genomes scored for contributions that have a truth table."""
    return [g for g in contrib_genomes(config) if g in config["contributions"]["truth"]]


def contrib_chroms(config: Mapping[str, Any], genome: str) -> list[str]:
    """Chromosomes to draw genes from: contributions.chroms, else with ``held_out_only`` the
    genome's test chromosomes, else none (every chromosome)."""
    contrib = config["contributions"]
    chroms = contrib["chroms"]
    if not chroms and contrib["held_out_only"]:
        chroms = config["genomes"][genome].get("splits", {}).get("test", [])
    return list(chroms)


def contrib_settings(config: Mapping[str, Any], genome: str) -> str:
    """The contributions section as ``--params`` JSON (its result-changing keys only; see
    :func:`~enformer_lite.pipeline.flags.settings_json`), with the chromosomes to draw genes from."""
    return settings_json(config, "contributions", contributions={"chroms": contrib_chroms(config, genome)})


def contrib_chunks(config: Mapping[str, Any], genome: str) -> list[str]:
    """Chunk directories of one genome, in gene order."""
    return [f"results/contributions/{genome}/chunks/{chunk}" for chunk in range(config["contributions"]["chunks"])]


def contributions_targets(config: Mapping[str, Any]) -> list[str]:
    """Final contribution outputs of every genome, plus the evaluation when any genome has truth."""
    out = [
        f"results/contributions/{genome}.{kind}"
        for genome in contrib_genomes(config)
        for kind in ("enhancer_gene.tsv", "bedpe", "tracks")
    ]
    return out + (["results/contributions/eval.tsv"] if contrib_truth_genomes(config) else [])
