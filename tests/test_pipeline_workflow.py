"""The workflow files as users and the Snakemake workflow catalog use them: both entry points
(Snakefile at the top, workflow/Snakefile) build the same DAG, lint and formatting are clean, and
the catalog's settings file has its keys."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def dry_run(snakefile: Path, work: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(work),
         "--configfile", str(ROOT / "config" / "ci.yaml"), "--cores", "2", "--dry-run", "--printshellcmds"],
        capture_output=True, text=True, cwd=ROOT, env=ENV,
    )


def job_counts(stdout: str) -> dict[str, int]:
    """The dry run's job stats table: rule → number of jobs."""
    table = stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_both_entry_points_build_the_same_dag(tmp_path: Path) -> None:
    top = dry_run(ROOT / "Snakefile", tmp_path / "top")
    inner = dry_run(ROOT / "workflow" / "Snakefile", tmp_path / "inner")
    assert top.returncode == 0, top.stderr[-3000:]
    assert inner.returncode == 0, inner.stderr[-3000:]
    counts = job_counts(top.stdout)
    assert counts == job_counts(inner.stdout)
    assert counts["all"] == 1 and counts["simulate"] == 1 and counts["windows"] == 2  # the default target
    commands = sorted(re.findall(r"^Shell command: (.*enformer-lite .*)$", top.stdout, re.M))
    assert commands == sorted(re.findall(r"^Shell command: (.*enformer-lite .*)$", inner.stdout, re.M)) and commands


def test_lint_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True, text=True,
                            cwd=ROOT, env=ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_rule_files_are_snakefmt_clean() -> None:
    if shutil.which("snakefmt", path=ENV["PATH"]) is None:
        pytest.skip("snakefmt is not installed (pip install -e '.[dev]')")
    result = subprocess.run(["snakefmt", "--check", "workflow", "Snakefile"], capture_output=True, text=True,
                            cwd=ROOT, env=ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_catalog_settings() -> None:
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    assert set(usage["software-stack-deployment"]) <= {"conda", "apptainer", "apptainer+conda"}
    assert usage["report"] is True
    assert (ROOT / "workflow" / "Snakefile").is_file() and (ROOT / "config" / "README.md").is_file()


def test_no_rule_file_parses_inputs_itself() -> None:
    """Tables and BED files are read by the package (enformer_lite.data, .pipeline), not by .smk code."""
    for path in (ROOT / "workflow").rglob("*.smk"):
        text = path.read_text()
        assert not re.search(r"\bopen\(|\bcsv\.|read_csv", text), path
