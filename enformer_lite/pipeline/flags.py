"""Command-line pieces the rules pass to ``enformer-lite``: ``--params`` JSON and optional flags."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any


HARDWARE_KEYS: dict[str, tuple[str, ...]] = {
    "train": ("trainer", "num_workers", "progress_bar", "checkpoint_every_n_steps"),
    "evaluate": ("batch_size", "device", "num_workers"),
    "predict": ("batch_size", "device"),
    "variants": ("batch_size", "block_size", "device"),
    "contributions": ("batch_size", "device"),
}
"""Per section, the keys that say how a job runs (devices, processes, batching of inference, progress
output), not what it computes. They reach the CLI through :func:`hardware_json` as a *resource*,
which Snakemake does not compare when it decides what to rerun, so changing them reruns nothing."""

WORKFLOW_KEYS: dict[str, tuple[str, ...]] = {
    "variants": ("enabled", "checkpoint", "vcfs", "n_chunks"),
    "contributions": ("enabled", "checkpoint", "truth", "chunks"),
    "evaluate": ("resources",),
}
"""Keys the workflow reads itself (inputs, targets, chunk counts); jobs never see them, so adding a
VCF or a truth table changes no other job's parameters."""


def _section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    values = dict(config.get(name) or {})
    for key in WORKFLOW_KEYS.get(name, ()):
        values.pop(key, None)
    return values


def settings_json(config: Mapping[str, Any], *sections: str, **overrides: Mapping[str, Any]) -> str:
    """What the named config sections say about the result, as one JSON object for a CLI's ``--params``.

    Hardware keys (:data:`HARDWARE_KEYS`) and workflow keys (:data:`WORKFLOW_KEYS`) are left out;
    ``overrides`` (section → keys) replace values, e.g. one genome's chromosomes.
    """
    out = {}
    for name in sections:
        values = {k: v for k, v in _section(config, name).items() if k not in HARDWARE_KEYS.get(name, ())}
        out[name] = {**values, **overrides.get(name, {})}
    return json.dumps(out, sort_keys=True)


def hardware_json(config: Mapping[str, Any], *sections: str) -> str:
    """The hardware keys of the named sections as JSON for a second ``--params`` (see :data:`HARDWARE_KEYS`)."""
    out = {name: {k: v for k, v in _section(config, name).items() if k in HARDWARE_KEYS.get(name, ())}
           for name in sections}
    # compact: Snakemake prints resources as "name=value, name=value"
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def optional_flag(flag: str, value: str | None) -> str:
    """``FLAG 'value'`` (shell-quoted) when ``value`` is set, else an empty string."""
    return f"{flag} {shlex.quote(value)}" if value else ""


def first_file_flag(flag: str, files: Sequence[str]) -> str:
    """``FLAG 'file'`` for an optional input given as a list of zero or one file."""
    return optional_flag(flag, files[0]) if files else ""


def optional_file(genome: Mapping[str, Any], key: str) -> list[str]:
    """A genome's optional ``key`` file (genes, candidates) as an input list: ``[path]`` or ``[]``."""
    return [genome[key]] if genome.get(key) else []


GENES_BED = "results/{genome}/genes.bed"
"""One TSS per gene, named as in the genome's FASTA: the ``genes`` rule's output, read by every stage."""


def genes_input(config: Mapping[str, Any], genome: str) -> list[str]:
    """The prepared genes BED of ``genome`` as an input list: ``[results/{genome}/genes.bed]`` or ``[]``."""
    return [GENES_BED.format(genome=genome)] if config["genomes"][genome].get("genes") else []


def gene_filter_flags(genome: Mapping[str, Any]) -> str:
    """``--gene-types ... --transcript-tags ...`` for ``enformer-lite genes`` from a genome's config."""
    parts = [f"--{key.replace('_', '-')} " + " ".join(shlex.quote(v) for v in genome[key])
             for key in ("gene_types", "transcript_tags") if genome.get(key)]
    return " ".join(parts)


def blacklist_flags(genome: Mapping[str, Any], with_mode: bool) -> str:
    """``--blacklist BED`` (and ``--blacklist-mode M`` when ``with_mode``) when the genome has a blacklist."""
    if not genome.get("blacklist"):
        return ""
    mode = f" --blacklist-mode {genome.get('blacklist_mode', 'mask')}" if with_mode else ""
    return optional_flag("--blacklist", genome["blacklist"]) + mode
