"""Job resources from the `resources:` config section, as Snakemake and the SLURM executor see them.

The cluster run itself is in test_slurm_cluster.py; these tests need no SLURM.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.utils import validate

from enformer_lite.pipeline.resources import job_resources
from enformer_lite.pipeline.training import train_launcher, train_layout, train_resources

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def workflow_config(resources: dict | None = None, trainer: dict | None = None) -> dict:
    """A validated workflow config with these ``resources:`` and ``train.trainer`` settings."""
    config: dict = {"genomes": {"hg38": {"fasta": "hg38.fa", "tracks": "tracks.tsv"}},
                    "resources": resources or {}, "train": {"trainer": trainer or {}}}
    validate(config, str(SCHEMA), set_default=True)
    return config


def resources_section(resources: dict | None = None) -> dict:
    """The validated ``resources:`` section."""
    return workflow_config(resources)["resources"]


def evaluate(resources: dict, attempt: int = 1) -> dict:
    """Resource values as Snakemake computes them for one job (callables get wildcards, attempt)."""
    return {k: (v(None, attempt) if callable(v) else v) for k, v in resources.items()}


def test_memory_and_runtime_scale_and_grow_with_attempts() -> None:
    res = resources_section({"mem_scale": 2.5, "runtime_scale": 0.3})
    first = evaluate(job_resources(res, mem_mb=4001, runtime=20))
    assert first == {"mem_mb": math.ceil(4001 * 2.5), "runtime": 6}
    second = evaluate(job_resources(res, mem_mb=4001, runtime=20), attempt=2)
    assert second == {"mem_mb": math.ceil(4001 * 2.5 * 2), "runtime": 12}


def test_cpu_rules_get_partition_and_account_but_no_gpu() -> None:
    res = resources_section({"slurm_partition": "cpu", "gpu_partition": "gpu", "slurm_account": "lab",
                             "gpus": {"score": 2}})
    assert evaluate(job_resources(res, mem_mb=100, runtime=5)) == {
        "mem_mb": 100, "runtime": 5, "slurm_partition": "cpu", "slurm_account": "lab",
    }
    assert evaluate(job_resources(res, mem_mb=100, runtime=5, gpus="score")) == {
        "mem_mb": 100, "runtime": 5, "gpu": 2, "slurm_partition": "gpu", "slurm_account": "lab",
    }


def test_unset_partition_leaves_profile_defaults_alone() -> None:
    res = job_resources(resources_section({"gpus": {"contributions": 1}, "gpu_model": "a100"}),
                        mem_mb=100, runtime=5, gpus="contributions")
    assert "slurm_partition" not in res and "slurm_account" not in res
    assert (res["gpu"], res["gpu_model"]) == (1, "a100")


def test_unknown_gpu_group_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown GPU group 'scoring'"):
        job_resources(resources_section(), mem_mb=1, runtime=1, gpus="scoring")


def test_single_process_training_has_no_launcher() -> None:
    config = workflow_config({"gpus": {"train": 1}}, {"devices": 1})
    res = evaluate(train_resources(config, mem_mb=8000, runtime=60))
    assert res == {"mem_mb": 8000, "runtime": 60, "gpu": 1}
    assert train_launcher(config) == ""


def test_multi_gpu_single_node_training_layout() -> None:
    config = workflow_config({"gpus": {"train": 4}, "threads": 8}, {"devices": 4, "strategy": "ddp"})
    res = evaluate(train_resources(config, mem_mb=8000, runtime=60))
    assert res == {"mem_mb": 8000, "runtime": 60, "gpu": 4, "mpi": "srun", "nodes": 1, "tasks_per_node": 4}
    launcher = train_launcher(config)
    assert launcher.startswith("${SLURM_JOB_ID:+srun ") and launcher.endswith("}")
    assert "--nodes=1 " in launcher and "--ntasks-per-node=4 " in launcher and "--cpus-per-task=8 " in launcher


def test_multi_node_training_asks_gpus_per_node() -> None:
    config = workflow_config({"gpus": {"train": 2}, "gpu_model": "a100"}, {"devices": "auto", "num_nodes": 3})
    res = evaluate(train_resources(config, mem_mb=8000, runtime=60))
    assert res == {"mem_mb": 8000, "runtime": 60, "gres": "gpu:a100:2", "mpi": "srun", "nodes": 3,
                   "tasks_per_node": 2}


def test_one_process_per_node_uses_tasks() -> None:
    config = workflow_config({}, {"devices": 1, "num_nodes": 2, "accelerator": "cpu"})
    res = evaluate(train_resources(config, mem_mb=10, runtime=1))
    assert (res["tasks"], res["nodes"]) == (2, 2) and "tasks_per_node" not in res


def test_gpus_must_match_devices() -> None:
    with pytest.raises(ValueError, match=r"resources.gpus.train is 2 GPUs per node but train.trainer.devices is 4"):
        train_layout(workflow_config({"gpus": {"train": 2}}, {"devices": 4}))


def test_launcher_expands_only_inside_a_slurm_job() -> None:
    launcher = train_launcher(workflow_config({"threads": 1}, {"devices": 2}))
    script = f"set -u; echo {launcher} train"
    outside = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"})
    inside = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                            env={**os.environ, "SLURM_JOB_ID": "17"})
    assert outside.stdout.split() == ["train"]
    assert inside.stdout.split() == ["srun", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1",
                                     "--kill-on-bad-exit=1", "train"]


class Resources(dict):
    """What the executor reads: ``job.resources.get(name)`` and ``job.resources.name``."""

    def __getattr__(self, name: str):
        return self[name]


def sbatch_flags(resources: dict, threads: int) -> list[str]:
    """The sbatch command line the SLURM executor builds for a job with these resources."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = SimpleNamespace(resources=Resources(evaluate(resources)), threads=threads)
    params = {"run_uuid": "run", "slurm_logfile": "log", "comment_str": "rule_train", "account": "",
              "partition": "", "workdir": "/w"}
    return (get_submit_command(job, params) + set_gres_string(job)).split()


def test_sbatch_line_of_multi_node_gpu_training() -> None:
    config = workflow_config({"gpus": {"train": 4}, "threads": 6, "slurm_partition": "cpu", "gpu_partition": "gpu"},
                             {"devices": 4, "num_nodes": 2, "strategy": "ddp"})
    flags = sbatch_flags(train_resources(config, mem_mb=16000, runtime=240), threads=6)
    for flag in ("--nodes=2", "--ntasks-per-node=4", "--cpus-per-task=6", "--gres=gpu:4"):
        assert flag in flags, (flag, flags)
    assert flags[flags.index("--mem") + 1] == "16000" and flags[flags.index("-t") + 1] == "240"
    assert not any(f.startswith("--gpus") for f in flags)


def test_sbatch_line_of_a_gpu_scoring_chunk() -> None:
    res = resources_section({"gpus": {"score": 1}, "gpu_model": "h100"})
    flags = sbatch_flags(job_resources(res, mem_mb=2000, runtime=30, gpus="score"), threads=2)
    assert "--gpus=h100:1" in flags and "--cpus-per-task=2" in flags
    assert not any(f.startswith("--ntasks") for f in flags)


def dry_run_resources(tmp_path: Path, config: dict) -> dict[str, dict[str, str]]:
    """rule → resources printed by a SLURM-profile dry run of the ci workflow with ``config`` overrides."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / "overrides.yaml"
    config_file.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", str(ROOT / "profiles" / "slurm"), "--dry-run",
         "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path / "work"),
         "--configfile", str(ROOT / "config" / "ci.yaml"), str(config_file)],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", result.stdout):
        name = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        line = re.search(r"^\s+resources: (.*)$", block, re.M)
        if name and line:
            found[name.group(1)] = dict(item.split("=", 1) for item in line.group(1).split(", "))
    return found


def declared(rule: str) -> tuple[int, int]:
    """(mem_mb, runtime) written on a rule in workflow/rules/*.smk."""
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        match = re.search(rf"^[ \t]*(?:rule|checkpoint) {rule}:\n(?:[ \t]+.*\n|\n)*?[ \t]+\*\*job_resources\("
                          rf"mem_mb=(\d+), runtime=(\d+)", path.read_text(), re.M)
        if match:
            return int(match.group(1)), int(match.group(2))
    raise AssertionError(f"rule {rule} not found")


def test_profile_dry_run_applies_the_config(tmp_path: Path) -> None:
    scaled = dry_run_resources(tmp_path, {"resources": {
        "mem_scale": 1.5, "runtime_scale": 2, "slurm_partition": "short", "slurm_account": "lab"}})
    for rule in ("simulate", "windows"):
        mem_mb, runtime = declared(rule)
        assert int(scaled[rule]["mem_mb"]) == math.ceil(mem_mb * 1.5)
        assert int(scaled[rule]["runtime"]) == runtime * 2
        assert (scaled[rule]["slurm_partition"], scaled[rule]["slurm_account"]) == ("short", "lab")


def test_every_rule_with_a_command_declares_scaled_resources() -> None:
    rules_dir = ROOT / "workflow" / "rules"
    missing = []
    for path in sorted(rules_dir.glob("*.smk")):
        text = path.read_text()
        for match in re.finditer(r"^[ \t]*(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            name, body = match.groups()
            if "shell:" not in body or re.search(r"localrule:\s*True", body):
                continue
            if not re.search(r"resources:\s*\n\s*\*\*(job|train)_resources\(", body):
                missing.append(f"{path.name}:{name}")
    assert not missing, f"rules without **job_resources(...) / **train_resources(...): {missing}"
