"""The variant stage's VCFs, scoring heads, evaluation cases and final outputs (``variants:`` config).

What only Snakemake knows is passed in: ``declared``, the files the simulate rule declares
(truth tables that will exist), and ``model_available``, whether a checkpoint exists or can be trained.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from typing import Any


def variant_head(entry: Mapping[str, Any]) -> str:
    """Model head that scores a VCF entry: its ``head``, else its genome's name."""
    return entry.get("head") or entry["genome"]


def variant_settings(config: Mapping[str, Any]) -> str:
    """The variants section as ``--params`` JSON (the CLI ignores the workflow-only keys)."""
    return json.dumps({"variants": config["variants"]}, sort_keys=True)


def indexed_copy(name: str) -> str:
    """Where the workflow writes the bgzipped, tabix-indexed copy of VCF ``name`` that has no index."""
    return f"results/variants/{name}/input.vcf.gz"


def has_index(path: str, declared: Collection[str] = ()) -> bool:
    """Whether VCF ``path`` is bgzipped with a ``.tbi``/``.csi`` index that exists or that a rule declares."""
    compressed = path.endswith((".gz", ".bgz", ".bcf"))
    return compressed and any(os.path.exists(f"{path}{s}") or f"{path}{s}" in declared for s in (".tbi", ".csi"))


def variant_input(name: str, entry: Mapping[str, Any], declared: Collection[str] = ()) -> dict[str, str]:
    """The VCF the scoring and gather jobs of ``name`` read, and its index: the user's own when it has
    an index (a gnomAD download, the simulator's VCF), else the copy of :func:`indexed_copy` (the user's
    file is never modified)."""
    path = str(entry["path"])
    if has_index(path, declared):
        index = next(f"{path}{s}" for s in (".tbi", ".csi") if os.path.exists(f"{path}{s}") or f"{path}{s}" in declared)
        return {"vcf": path, "index": index}
    return {"vcf": indexed_copy(name), "index": f"{indexed_copy(name)}.tbi"}


def truth_ready(path: str, declared: Collection[str]) -> bool:
    """A truth table can be used if it exists or some rule declares it (``declared``)."""
    if not path:
        return False
    return os.path.exists(path) or path in declared


def variant_eval_cases(config: Mapping[str, Any], declared: Collection[str]) -> list[str]:
    """VCF names whose truth table can be used (and whose genome has genes)."""
    return [
        name
        for name, entry in config["variants"]["vcfs"].items()
        if truth_ready(entry.get("truth", ""), declared) and config["genomes"][entry["genome"]].get("genes")
    ]


def variant_targets(config: Mapping[str, Any], model_available: bool, declared: Collection[str]) -> list[str]:
    """Variant outputs requested by ``snakemake`` (none when disabled or no model can be had)."""
    variants = config["variants"]
    if not variants["enabled"] or not variants["vcfs"]:
        return []
    if not (os.path.exists(variants["checkpoint"]) or model_available):
        return []
    out = [f"results/variants/{name}.{ext}" for name in variants["vcfs"] for ext in ("tsv.gz", "vcf.gz", "vcf.gz.tbi")]
    if variant_eval_cases(config, declared):
        out.append("results/variants/eval.tsv")
    return out
