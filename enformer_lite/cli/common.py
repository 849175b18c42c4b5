"""Helpers shared by the subcommands: argument parsing, and reporting errors without a traceback."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Iterator, Sequence
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


def add_params_argument(parser: argparse.ArgumentParser, sections: str) -> None:
    """``--params``, repeatable: each inline JSON or a JSON/YAML file; later ones override earlier keys."""
    parser.add_argument("--params", metavar="JSON|FILE", action="append",
                        help=f"settings {sections} inline or as a JSON/YAML file; repeatable, merged key by key "
                             "(the workflow passes what a job computes, then how it runs)")


def load_params(texts: str | Sequence[str] | None) -> dict[str, Any]:
    """Parse ``--params`` (one value or several, merged left to right, nested mappings key by key) into a dict."""
    if texts is None or isinstance(texts, str):
        texts = [texts] if texts else []
    merged: dict[str, Any] = {}
    for text in texts:
        _merge(merged, _load_one(text))
    return merged


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    """Recursive dict update: mappings merge, other values replace."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _load_one(text: str) -> dict[str, Any]:
    """One ``--params`` value: inline JSON, or a path to a JSON or YAML file."""
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


def add_threads_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--threads N``: torch's CPU threads (0 = torch's default, all the cores it sees).

    A workflow rule passes its ``threads``, so a job computes with the same number of threads
    locally and on a cluster node (float results depend on how the work is split)."""
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` when ``threads`` > 0."""
    if threads and threads > 0:
        import torch

        torch.set_num_threads(threads)


def add_inference_flags(parser: argparse.ArgumentParser, section_name: str) -> None:
    """``--params`` plus the overrides read by :func:`settings_from_args` (batch size, device, averaging)."""
    add_params_argument(parser, f'{{"{section_name}": {{...}}}}')
    parser.add_argument("--batch-size", type=int, help="windows per forward pass")
    parser.add_argument("--device", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument("--reverse-complement", action=argparse.BooleanOptionalAction, default=None,
                        help="average with reverse-complement predictions")
    parser.add_argument("--shifts", type=int, nargs="+", help="average over these bp shifts (e.g. -1 0 1)")


_ADVICE = {
    errno.ENOSPC: "The file system is full: free space on it (df -h {where}) or write the outputs to another"
                  " directory; the incomplete output was removed.",
    errno.EDQUOT: "Your disk quota on that file system is used up: free space (or ask for more) or write the"
                  " outputs to another directory; the incomplete output was removed.",
    errno.EROFS: "The file system is mounted read-only: write the outputs to a directory on a writable file"
                 " system (e.g. your project or scratch space).",
    errno.EACCES: "Check the permissions of the file and of the directories above it (ls -ld {where}): an input"
                  " must be readable and an output's directory writable by you, or choose another location.",
    errno.ENOENT: "Check the path: a typo, a file that was moved, or a directory that does not exist?",
    errno.EISDIR: "A directory is in the way: give a file name, or remove the directory.",
    errno.ENOTDIR: "A part of the path is a file, not a directory: check the path.",
}
_ADVICE[errno.EPERM] = _ADVICE[errno.EACCES]
_HDF5_NAME = re.compile(r"(?:file)?name = '([^']+)'")
_TEMP_NAME = re.compile(r"^\.(.+)\.tmp[0-9A-Za-z_]*$")


def _error_path(err: OSError) -> str | None:
    """The path an OS error is about: its ``filename``, else the file named in an HDF5 message."""
    if err.filename is not None:
        return os.fsdecode(err.filename)
    found = _HDF5_NAME.search(str(err))
    if not found:
        return None
    path = Path(found.group(1))
    temp = _TEMP_NAME.match(path.name)
    return str(path.with_name(temp.group(1))) if temp else str(path)


def os_error_message(err: OSError) -> str:
    """One paragraph for a failed file operation: the path, the condition, and what the user can do.

    ``[Errno 28] ...`` from h5py, ``PermissionError`` from ``open`` and the like all become
    ``PATH: No space left on device. The file system is full: ...``.
    """
    code = err.errno
    condition = os.strerror(code) if code else (err.strerror or str(err))
    path = _error_path(err)
    where = Path(path or ".")
    while not where.is_dir() and where != where.parent:  # the nearest directory that exists
        where = where.parent
    advice = _ADVICE.get(code or -1, "Check the path and the file system it is on.").format(where=shlex.quote(str(where)))
    subject = f"{path}: " if path else ""
    if err.filename2 is not None:
        subject = f"{path} -> {os.fsdecode(err.filename2)}: "
    return f"{subject}{condition}. {advice}"


def report_error(command: str, err: Exception) -> int:
    """Log and print ``err`` as ``enformer-lite COMMAND: error: ...`` (no traceback); returns the exit status.

    Bad input (:class:`InputError`) exits with 2; a failed file operation (:class:`OSError`:
    full disk, read-only file system, permission denied, missing file) with 1.
    """
    text = os_error_message(err) if isinstance(err, OSError) else str(err)
    logging.getLogger("enformer_lite").error("%s", text)
    print(f"enformer-lite {command}: error: {text}", file=sys.stderr)
    return 1 if isinstance(err, OSError) else 2


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """While inside: SIGTERM (what Snakemake, SLURM and ``kill`` send) raises SystemExit(143) instead of
    ending the process on the spot, so that every open ``atomic_output``/``atomic_directory`` removes
    its temporary. Only when SIGTERM still has its default action; the previous handler is restored
    on leaving (``train`` does not use this: Lightning's own handler saves a checkpoint first, and it
    installs itself only where no handler is set)."""
    import signal

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        if previous is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)
