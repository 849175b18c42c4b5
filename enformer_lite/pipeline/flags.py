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
