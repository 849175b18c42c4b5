"""Command-line pieces the rules pass to ``enformer-lite``: ``--params`` JSON and optional flags."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any


def settings_json(config: Mapping[str, Any], *sections: str) -> str:
    """The named config sections as one JSON object for a CLI's ``--params`` (empty when unset)."""
    return json.dumps({name: config.get(name) or {} for name in sections}, sort_keys=True)


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
