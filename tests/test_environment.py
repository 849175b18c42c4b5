"""pyproject.toml and environment.yml list the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda package name → PyPI distribution name, where they differ
CONDA_TO_PYPI = {"pytorch-cpu": "torch", "pytorch": "torch", "pybigwig": "pybigwig"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*(#.*)?$", requirement)
    assert match, requirement
    name = match.group(1).lower().replace("_", "-")
    return CONDA_TO_PYPI.get(name, name), match.group(2).replace(" ", "")


def test_pyproject_and_environment_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_deps: dict[str, str] = {}
    for entry in env["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            name, spec = _split(item)
            if name in ("python", "pip"):
                continue
            conda_deps[name] = spec
    assert set(pip_deps) == set(conda_deps), (
        f"only in pyproject: {sorted(set(pip_deps) - set(conda_deps))}; "
        f"only in environment.yml: {sorted(set(conda_deps) - set(pip_deps))}"
    )
    for name, spec in pip_deps.items():
        assert spec == conda_deps[name], f"{name}: pyproject {spec!r} vs environment.yml {conda_deps[name]!r}"
