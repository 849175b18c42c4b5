"""pyproject.toml, environment.yml and the rules' conda env (workflow/envs/) list the same dependencies,
and the rules' env installs a working `enformer-lite` CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
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


# --- the rules' conda environment (workflow/envs/enformer-lite.yaml and its post-deploy script) ---

ENVS = ROOT / "workflow" / "envs"
RULE_ENV = ENVS / "enformer-lite.yaml"
POST_DEPLOY = ENVS / "enformer-lite.post-deploy.sh"
RULE_ENV_DIRECTIVE = '"../envs/enformer-lite.yaml"'  # relative to workflow/rules/
# Not runtime dependencies of the package, but what the rule env needs to install the package itself.
RULE_ENV_EXTRAS = {"python", "pip", "setuptools"}


def _rule_env_deps() -> dict[str, str]:
    env = yaml.safe_load(RULE_ENV.read_text())
    assert all(isinstance(entry, str) for entry in env["dependencies"]), "the rule env installs nothing with pip"
    return dict(_split(entry) for entry in env["dependencies"])


def test_rule_env_lists_the_runtime_dependencies() -> None:
    """Exactly [project] dependencies, same floors: no dev extra, nothing missing."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = dict(_split(r) for r in project["dependencies"])
    deps = _rule_env_deps()
    listed = {name: spec for name, spec in deps.items() if name not in RULE_ENV_EXTRAS}
    assert set(listed) == set(runtime), (
        f"only in pyproject: {sorted(set(runtime) - set(listed))}; "
        f"only in {RULE_ENV.name}: {sorted(set(listed) - set(runtime))}"
    )
    for name, spec in runtime.items():
        assert listed[name] == spec, f"{name}: pyproject {spec!r} vs {RULE_ENV.name} {listed[name]!r}"


def test_rule_env_can_build_the_package() -> None:
    """The post-deploy script builds without isolation: the env's setuptools meets build-system requires,
    and its python meets requires-python."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = _rule_env_deps()
    (setuptools_req,) = [r for r in pyproject["build-system"]["requires"] if _split(r)[0] == "setuptools"]
    assert deps["setuptools"] == _split(setuptools_req)[1]
    floor = pyproject["project"]["requires-python"].removeprefix(">=")
    assert deps["python"].startswith(f">={floor},"), deps["python"]


def test_rule_env_agrees_with_environment_yml() -> None:
    """The full development environment pins the runtime dependencies the same way (channels too)."""
    rule_env = yaml.safe_load(RULE_ENV.read_text())
    dev_env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert rule_env["channels"] == dev_env["channels"]
    dev_conda = dict(_split(e) for e in dev_env["dependencies"] if isinstance(e, str))
    for name, spec in _rule_env_deps().items():
        if name in ("python", "setuptools"):
            continue
        other = dev_conda.get(name)
        assert other == spec, f"{name}: {RULE_ENV.name} {spec!r} vs environment.yml {other!r}"


def test_every_rule_names_the_rule_env() -> None:
    rules_dir = ROOT / "workflow" / "rules"
    n_rules = 0
    for smk in sorted(rules_dir.glob("*.smk")):
        lines = smk.read_text().splitlines()
        starts = [i for i, line in enumerate(lines) if re.match(r"^\s*(rule|checkpoint)\s+\w+\s*:", line)]
        for k, start in enumerate(starts):
            block = lines[start : starts[k + 1] if k + 1 < len(starts) else len(lines)]
            where = f"{smk.name}: {block[0].strip()}"
            conda = [j for j, line in enumerate(block) if line.strip() == "conda:"]
            assert len(conda) == 1, f"{where} has {len(conda)} conda: directives"
            value = next(line.strip() for line in block[conda[0] + 1 :] if line.strip())
            assert value == RULE_ENV_DIRECTIVE, f"{where}: conda: {value}"
            assert (rules_dir / value.strip('"')).resolve() == RULE_ENV
            n_rules += 1
        assert all(line.strip() != "conda:" for line in lines[: starts[0] if starts else len(lines)]), smk.name
    assert n_rules >= 20, n_rules  # the parser found the rules
    assert RULE_ENV.is_file() and POST_DEPLOY.is_file()
    # Snakemake looks for the post-deploy script next to the env file, by this name.
    assert POST_DEPLOY.name == RULE_ENV.name.removesuffix(".yaml") + ".post-deploy.sh"


def test_snakefile_tells_the_post_deploy_script_where_the_source_is(tmp_path: Path) -> None:
    """Loading workflow/Snakefile from a checkout sets ENFORMER_LITE_SOURCE to that checkout, over any
    value in the environment, for Snakemake's conda env creation (and so the post-deploy script)."""
    probe = tmp_path / "Snakefile"
    probe.write_text(
        f"include: {str(ROOT / 'workflow' / 'Snakefile')!r}\n"
        'print("ENFORMER_LITE_SOURCE=" + os.environ.get("ENFORMER_LITE_SOURCE", ""))\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(probe), "-d", str(tmp_path), "--list-rules"]
        + ["--configfile", str(ROOT / "config" / "ci.yaml")],
        env={**os.environ, "ENFORMER_LITE_SOURCE": str(tmp_path / "elsewhere")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"ENFORMER_LITE_SOURCE={ROOT}\n" in run.stdout, run.stdout


def _env_like_conda(venv_dir: Path, source: str | None) -> dict[str, str]:
    """The environment Snakemake runs the post-deploy script with: its own, the env activated."""
    env = {k: v for k, v in os.environ.items() if k not in ("ENFORMER_LITE_SOURCE", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    env["PIP_NO_INDEX"] = "1"  # the script must not need PyPI
    env["PIP_CONFIG_FILE"] = os.devnull
    if source is not None:
        env["ENFORMER_LITE_SOURCE"] = source
    return env


@pytest.fixture
def deps_venv(tmp_path: Path) -> Path:
    """A fresh venv (standing in for the conda env) that sees this interpreter's packages but not the
    package's console script. A venv made from inside a venv gets the base interpreter's site-packages
    from --system-site-packages, not the venv's, so this one's are added with a .pth file."""
    venv_dir = tmp_path / "env"
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=os.name != "nt").create(venv_dir)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv_dir), "platbase": str(venv_dir)}))
    outer = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    (purelib / "_outer_site_packages.pth").write_text("".join(f"{p}\n" for p in outer))
    assert not (venv_dir / "bin" / "enformer-lite").exists()
    return venv_dir


def test_post_deploy_installs_a_working_cli(deps_venv: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        ["sh", str(POST_DEPLOY)],
        env=_env_like_conda(deps_venv, str(ROOT)),
        cwd=tmp_path,  # Snakemake's working directory, not the script's
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    cli = deps_venv / "bin" / "enformer-lite"
    assert cli.is_file()
    helped = subprocess.run([str(cli), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "usage: enformer-lite" in helped.stdout
    where = subprocess.run(
        [
            str(deps_venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m, enformer_lite; "
            "print(m.distribution('enformer-lite').locate_file('')); print(enformer_lite.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    installed_in, module = where.stdout.split("\n")[:2]
    assert Path(installed_in).resolve().is_relative_to(deps_venv.resolve()), installed_in  # installed there
    assert Path(module).resolve().is_relative_to(ROOT / "enformer_lite"), module  # the checkout's code


@pytest.mark.parametrize("source", [None, ""])
def test_post_deploy_without_source_says_what_to_do(deps_venv: Path, tmp_path: Path, source: str | None) -> None:
    run = subprocess.run(
        ["sh", str(POST_DEPLOY)], env=_env_like_conda(deps_venv, source), capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert "ENFORMER_LITE_SOURCE is not set" in run.stderr
    assert "export ENFORMER_LITE_SOURCE=" in run.stderr
    assert not (deps_venv / "bin" / "enformer-lite").exists()


def test_post_deploy_with_wrong_source_says_so(deps_venv: Path, tmp_path: Path) -> None:
    env = _env_like_conda(deps_venv, str(tmp_path))
    run = subprocess.run(["sh", str(POST_DEPLOY)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert f"ENFORMER_LITE_SOURCE={tmp_path} is not an enformer-lite checkout" in run.stderr
