"""Resources of one job, from the ``resources:`` config section.

Memory and wall time are each rule's demo-scale need scaled by ``mem_scale`` / ``runtime_scale``
and by the attempt number; GPU-capable rule groups get ``gpu`` (and ``gpu_model``); SLURM partition
and account are set only where configured, so that a profile's default-resources still apply
otherwise. See profiles/README.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

GPU_GROUPS = ("train", "score", "contributions")
"""Rule groups that can use GPUs; each has a count in ``resources.gpus``."""

ResourceValue = int | str | Callable[[Any, int], int]
"""A resource as Snakemake takes it: a value, or a callable of (wildcards, attempt)."""


def job_threads(resources: Mapping[str, Any]) -> int:
    """Threads of a training, scoring or contribution job (SLURM --cpus-per-task)."""
    return int(resources["threads"])


def gpu_count(resources: Mapping[str, Any], group: str) -> int:
    """GPUs per job (per node for training) configured for a GPU-capable rule group."""
    if group not in GPU_GROUPS:
        raise ValueError(f"unknown GPU group {group!r}, expected one of {', '.join(GPU_GROUPS)}")
    return int(resources["gpus"][group])


def scaled_by_attempt(amount: float) -> Callable[[Any, int], int]:
    """Resource callable: ``amount`` rounded up on the first attempt, twice that on the second, ...

    A job killed for running out of memory or time is resubmitted with more when Snakemake may
    retry it (``--retries``; the SLURM profile allows one retry).
    """

    def value(wildcards: Any, attempt: int) -> int:
        return max(1, math.ceil(amount * attempt))

    return value


def job_resources(
    resources: Mapping[str, Any], mem_mb: int, runtime: int, gpus: str | None = None
) -> dict[str, ResourceValue]:
    """Resources of one job.

    ``mem_mb`` (MB) and ``runtime`` (minutes) as needed at demo scale, multiplied by
    resources.mem_scale and runtime_scale and by the attempt number (1 for the first try, see
    :func:`scaled_by_attempt`); for a GPU-capable rule (``gpus`` names its group in resources.gpus)
    ``gpu`` (SLURM --gpus, local --resources gpu=N) and ``gpu_model``; ``slurm_partition`` /
    ``slurm_account`` only where configured.
    """
    out: dict[str, ResourceValue] = {
        "mem_mb": scaled_by_attempt(mem_mb * resources["mem_scale"]),
        "runtime": scaled_by_attempt(runtime * resources["runtime_scale"]),
    }
    n_gpus = gpu_count(resources, gpus) if gpus else 0
    if n_gpus:
        out["gpu"] = n_gpus
        if resources["gpu_model"]:
            out["gpu_model"] = resources["gpu_model"]
    partition = (resources["gpu_partition"] if n_gpus else "") or resources["slurm_partition"]
    if partition:
        out["slurm_partition"] = partition
    if resources["slurm_account"]:
        out["slurm_account"] = resources["slurm_account"]
    return out
