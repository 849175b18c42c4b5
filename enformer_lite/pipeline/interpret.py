"""The interpretation stage's genomes, VCF, inputs, settings and final outputs (``interpret:`` config)."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Collection, Mapping, Sequence
from typing import Any

HARDWARE = ("batch_size", "device")
"""Keys of the ism/motifs sub-sections that say how a job runs, passed as a resource (no rerun)."""


def interpret_genomes(config: Mapping[str, Any]) -> list[str]:
    """Genomes for ISM and motifs: ``interpret.genomes`` (or every genome) that have candidates."""
    section = config["interpret"]
    if not section["enabled"]:
        return []
    genomes = config["genomes"]
    chosen = section["genomes"] or list(genomes)
    return [g for g in chosen if g in genomes and genomes[g].get("candidates")]


def ism_genomes(config: Mapping[str, Any]) -> list[str]:
    """Genomes that also get ISM: those of :func:`interpret_genomes` named in ``interpret.ism_genomes`` (empty: all)."""
    chosen = config["interpret"].get("ism_genomes") or []
    return [g for g in interpret_genomes(config) if not chosen or g in chosen]


def truth_genomes(config: Mapping[str, Any]) -> list[str]:
    """Genomes of :func:`interpret_genomes` whose motifs are checked against a truth table (``interpret.truth``)."""
    return [g for g in interpret_genomes(config) if config["interpret"]["truth"].get(g)]


POOLED_EVAL = "results/interpret/motifs_eval.tsv"
POOLED_EVAL_MOTIFS = "results/interpret/motifs_eval_motifs.tsv"
"""The world-level motif truth tables (rule interpret_motifs_eval): metrics, and one row per planted motif."""


def pooled_motif_dirs(config: Mapping[str, Any]) -> list[str]:
    """The motif directories pooled into :data:`POOLED_EVAL`: those of the :func:`truth_genomes` when there
    are two or more of them, else none (one genome's eval.tsv already is its table)."""
    genomes = truth_genomes(config)
    return [f"results/interpret/{g}/motifs" for g in genomes] if len(genomes) > 1 else []


def pooled_eval_flags(config: Mapping[str, Any]) -> str:
    """``--eval GENOME=DIR`` per :func:`pooled_motif_dirs` for ``enformer-lite pool-motif-evals``."""
    pairs = zip(truth_genomes(config), pooled_motif_dirs(config))  # no directories: no flags
    return " ".join(f"--eval {shlex.quote(f'{genome}={folder}')}" for genome, folder in pairs)


def interpret_vcf(config: Mapping[str, Any]) -> str | None:
    """The VCF name to calibrate and explain, when the stage, the variants stage and that VCF are on.

    Its gather step then writes the signed quantiles into the variant outputs (:func:`gather_background`)."""
    name = config["interpret"]["vcf"]
    if not (config["interpret"]["enabled"] and name and config["variants"]["enabled"]):
        return None
    return name if name in config["variants"]["vcfs"] else None


def vcf_genome(config: Mapping[str, Any], name: str) -> str:
    """Genome of VCF ``name``."""
    return config["variants"]["vcfs"][name]["genome"]


def truth_input(config: Mapping[str, Any], genome: str, declared: Collection[str]) -> list[str]:
    """What a rule needs before it may read the genome's motif truth table: the table itself when it
    exists or a rule declares it, else a declared sibling (the simulator's enhancer_gene.tsv, written by
    the same job); empty without a truth table."""
    path = config["interpret"]["truth"].get(genome, "")
    if not path:
        return []
    if os.path.exists(path) or path in declared:
        return [path]
    siblings = [p for p in declared if os.path.dirname(p) == os.path.dirname(path)]
    return siblings[:1] if siblings else [path]


def truth_flag(config: Mapping[str, Any], genome: str) -> str:
    """``--truth PATH`` when the genome has a motif truth table, else empty."""
    path = config["interpret"]["truth"].get(genome, "")
    return f"--truth {path}" if path else ""


def step_settings(config: Mapping[str, Any], step: str, **overrides: Any) -> str:
    """``{"interpret": {step: ...}}`` JSON for ``--params``: what the step computes (hardware keys left out)."""
    values = {k: v for k, v in dict(config["interpret"][step]).items() if k not in HARDWARE}
    values.update(overrides)
    extra = {"motifs": {"q_threshold": config["interpret"]["motifs"]["q_threshold"]}} if step == "explain" else {}
    return json.dumps({"interpret": {step: values, **extra}}, sort_keys=True)


def step_hardware(config: Mapping[str, Any], step: str) -> str:
    """The hardware keys of a step as JSON for a second ``--params`` (a resource, so changing them reruns nothing)."""
    values = {k: v for k, v in dict(config["interpret"][step]).items() if k in HARDWARE}
    # compact: Snakemake prints resources as "name=value, name=value"
    return json.dumps({"interpret": {step: values}}, sort_keys=True, separators=(",", ":"))


def ism_settings(config: Mapping[str, Any], genome: str) -> str:
    """ISM settings of one genome: top variants only on the genome of ``interpret.vcf``."""
    vcf = interpret_vcf(config)
    if vcf is None or vcf_genome(config, vcf) != genome:
        return step_settings(config, "ism", top_variants=0)
    return step_settings(config, "ism")


def ism_variants(config: Mapping[str, Any], genome: str) -> list[str]:
    """The variant score file whose top variants the genome's ISM mutates (or none)."""
    vcf = interpret_vcf(config)
    if vcf is None or vcf_genome(config, vcf) != genome or not config["interpret"]["ism"]["top_variants"]:
        return []
    return [f"results/variants/{vcf}.h5"]


def explain_motifs(config: Mapping[str, Any], name: str) -> list[str]:
    """The motif directory of the VCF's genome, when motifs are found there."""
    genome = vcf_genome(config, name)
    return [f"results/interpret/{genome}/motifs"] if genome in interpret_genomes(config) else []


def background_settings(config: Mapping[str, Any]) -> str:
    """The variants section's scoring settings for the background: every record (no regions, no limit)."""
    from enformer_lite.pipeline.flags import settings_json

    return settings_json(config, "variants", variants={"regions": [], "limit": 0})


def background_source(config: Mapping[str, Any], name: str) -> str:
    """How the calibration background of VCF ``name`` is made, as recorded in the outputs."""
    user = config["interpret"]["background_vcf"]
    if user:
        return f"user VCF {user}"
    cal = config["interpret"]["calibration"]
    return f"{cal['n_background']} SNPs sampled from results/{vcf_genome(config, name)}/windows.bed, seed {cal['seed']}"


def background_vcf(config: Mapping[str, Any], name: str) -> str:
    """The background VCF to score: the user's, or the sampled one."""
    return config["interpret"]["background_vcf"] or f"results/interpret/background/{name}.vcf.gz"


def background_scores(name: str) -> str:
    """The background of VCF ``name`` scored the same way (rule interpret_background_score, a part file
    of its own: it never depends on the gathered scores of ``name``)."""
    return f"results/interpret/background/{name}.h5"


def gather_background(config: Mapping[str, Any], name: str) -> list[str]:
    """Input of the gather step of VCF ``name``: its scored background when it is calibrated (it is
    :func:`interpret_vcf`), else nothing."""
    return [background_scores(name)] if interpret_vcf(config) == name else []


def calibration_flags(config: Mapping[str, Any], name: str, background: Sequence[str]) -> str:
    """``--background H5 --background-source TEXT --quantile-scores S1,S2`` for ``gather-variants`` when
    ``background`` (:func:`gather_background`) holds the file, else nothing."""
    if not background:
        return ""
    scores = config["interpret"]["calibration"].get("scores") or ["SAD"]
    return (f"--background {shlex.quote(str(background[0]))} "
            f"--background-source {shlex.quote(background_source(config, name))} "
            f"--quantile-scores {shlex.quote(','.join(scores))}")


def interpret_targets(config: Mapping[str, Any], model_available: bool = True) -> list[str]:
    """Final outputs of the stage (none when disabled or no model can be had)."""
    if not model_available:
        return []
    out = []
    for genome in ism_genomes(config):
        out += [f"results/interpret/{genome}/ism.{ext}" for ext in ("h5", "bw", "png")]
    for genome in interpret_genomes(config):
        out += [f"results/interpret/{genome}/motifs", f"results/interpret/{genome}/motifs.png"]
    if pooled_motif_dirs(config):
        out += [POOLED_EVAL, POOLED_EVAL_MOTIFS]
    vcf = interpret_vcf(config)
    if vcf is not None:  # its quantiles are columns of the variant outputs (variant_targets)
        out += [f"results/interpret/{vcf}.explain.tsv", f"results/interpret/{vcf}.explain_eval.tsv"]
    return out
