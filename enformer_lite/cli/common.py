"""Argument helpers shared by the train, evaluate and predict subcommands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from enformer_lite.errors import InputError


def parse_named_paths(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    """``["human=a.h5", "mouse=b.h5"]`` → ``{"human": "a.h5", "mouse": "b.h5"}`` (order kept)."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"{flag} {item!r}: expected NAME=PATH")
        if name in out:
            raise InputError(f"{flag} {item!r}: {name!r} given twice")
        out[name] = path
    return out


def load_params(text: str | None) -> dict[str, Any]:
    """Parse ``--params``: inline JSON, or a path to a JSON or YAML file, into a dict."""
    if not text:
        return {}
    stripped = text.strip()
    if stripped.startswith("{"):
        source, raw = "--params", stripped
    else:
        if not Path(text).is_file():
            raise InputError(f"--params {text!r}: neither inline JSON nor an existing file")
        source, raw = text, Path(text).read_text()
    try:
        is_yaml = source != "--params" and Path(source).suffix in (".yaml", ".yml")
        value = yaml.safe_load(raw) if is_yaml else json.loads(raw)
    except (ValueError, yaml.YAMLError) as err:
        raise InputError(f"{source}: cannot parse parameters: {err}") from err
    if not isinstance(value, dict):
        raise InputError(f"{source}: parameters must be a mapping, got {type(value).__name__}")
    return value


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """``params[name]`` as a dict (empty when absent); InputError when it is not a mapping."""
    value = params.get(name) or {}
    if not isinstance(value, dict):
        raise InputError(f"--params: section {name!r} must be a mapping")
    return dict(value)


def settings_from_args(args: argparse.Namespace, section_name: str) -> dict[str, Any]:
    """The ``section_name`` settings from ``--params`` with the shared command-line overrides applied."""
    values = section(load_params(args.params), section_name)
    for key in ("batch_size", "device", "reverse_complement", "shifts"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    return values


def add_inference_flags(parser: argparse.ArgumentParser, section_name: str) -> None:
    """``--params`` plus the overrides read by :func:`settings_from_args` (batch size, device, averaging)."""
    parser.add_argument("--params", metavar="JSON|FILE",
                        help=f'settings {{"{section_name}": {{...}}}} inline or as a JSON/YAML file')
    parser.add_argument("--batch-size", type=int, help="windows per forward pass")
    parser.add_argument("--device", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument("--reverse-complement", action=argparse.BooleanOptionalAction, default=None,
                        help="average with reverse-complement predictions")
    parser.add_argument("--shifts", type=int, nargs="+", help="average over these bp shifts (e.g. -1 0 1)")
