"""Resources of one job, from the ``resources:`` config section.

Memory and wall time are each rule's demo-scale need scaled by ``mem_scale`` / ``runtime_scale``
and by the attempt number; GPU-capable rule groups get ``gpu`` (and ``gpu_model``); SLURM partition
and account are set only where configured, so that a profile's default-resources still apply
otherwise. See profiles/README.md. A rule whose need depends on its inputs passes a function of the
job's wildcards instead of a number: the extract rule's memory and time follow the track count and
the chromosome length (:func:`extract_mem_mb`, :func:`extract_runtime_min`, from bench/extract.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

GPU_GROUPS = ("train", "score", "contributions")
"""Rule groups that can use GPUs; each has a count in ``resources.gpus``."""

ResourceValue = int | str | Callable[[Any, int], int]
"""A resource as Snakemake takes it: a value, or a callable of (wildcards, attempt)."""
Need = float | Callable[[Any], float]
"""A job's need: a number, or a function of the job's wildcards."""

EXTRACT_BASE_MB = 500.0
"""Memory of an extract job besides its track group: interpreter and libraries (86 MB), a sequence
block (~35 MB), one 8-MiB bigWig piece (~65 MB) and what grows slowly with the chromosome (~1.5 MB
per Mb, extrapolated to chr1's 249 Mb): 208 MB measured at 50 Mb, ~500 MB at chr1 (bench/extract.py)."""
EXTRACT_GROUP_HEADROOM = 1.5
"""Factor on the float16 bins of one track group, the part that grows with the chromosome (2 MB per Mb)."""
EXTRACT_S_PER_TRACK_MB = 0.012
"""Seconds per track and Mb of chromosome: ~3× the 0.0036 CPU s measured on 16-bp synthetic bigWigs
(bench/extract.py), for denser real bigWigs, slower disks and shared nodes."""


def job_threads(resources: Mapping[str, Any]) -> int:
    """Threads of a job that runs the model (SLURM --cpus-per-task)."""
    return int(resources["threads"])


def gpu_count(resources: Mapping[str, Any], group: str) -> int:
    """GPUs per job (per node for training) configured for a GPU-capable rule group."""
    if group not in GPU_GROUPS:
        raise ValueError(f"unknown GPU group {group!r}, expected one of {', '.join(GPU_GROUPS)}")
    return int(resources["gpus"][group])


def scaled_by_attempt(amount: Need) -> Callable[[Any, int], int]:
    """Resource callable: ``amount`` rounded up on the first attempt, twice that on the second, ...

    ``amount`` is a number or a function of the job's wildcards. A job killed for running out of
    memory or time is resubmitted with more when Snakemake may retry it (``--retries``; the SLURM
    profile allows one retry).
    """

    def value(wildcards: Any, attempt: int) -> int:
        need = amount(wildcards) if callable(amount) else amount
        return max(1, math.ceil(need * attempt))

    return value


def _scaled(amount: Need, scale: float) -> Need:
    """``amount`` times ``scale``, still a number or a function of the wildcards."""
    if callable(amount):
        return lambda wildcards: amount(wildcards) * scale
    return amount * scale


def job_resources(
    resources: Mapping[str, Any], mem_mb: Need, runtime: Need, gpus: str | None = None
) -> dict[str, ResourceValue]:
    """Resources of one job.

    ``mem_mb`` (MB) and ``runtime`` (minutes) as needed at demo scale, or functions of the job's
    wildcards that compute the need, multiplied by resources.mem_scale and runtime_scale and by the
    attempt number (1 for the first try, see :func:`scaled_by_attempt`); for a GPU-capable rule
    (``gpus`` names its group in resources.gpus) ``gpu`` (SLURM --gpus, local --resources gpu=N)
    and ``gpu_model``; ``slurm_partition`` / ``slurm_account`` only where configured.
    """
    out: dict[str, ResourceValue] = {
        "mem_mb": scaled_by_attempt(_scaled(mem_mb, resources["mem_scale"])),
        "runtime": scaled_by_attempt(_scaled(runtime, resources["runtime_scale"])),
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


def extract_mem_mb(n_tracks: int, chrom_bp: int, bin_size: int = 128) -> int:
    """Memory (MB) of one extract job: ``chrom_bp`` bases, ``n_tracks`` tracks.

    Extraction holds one group of at most :data:`~enformer_lite.data.h5.TRACK_CHUNK` tracks as
    float16 bins (2 bytes × ceil(chrom_bp / bin_size) × group) besides a fixed part, so the need
    grows with the chromosome and stops growing with the track count at one group.
    """
    from enformer_lite.data.h5 import TRACK_CHUNK

    group_mb = 2 * -(-chrom_bp // bin_size) * min(n_tracks, TRACK_CHUNK) / 1e6
    return math.ceil(EXTRACT_BASE_MB + EXTRACT_GROUP_HEADROOM * group_mb)


def extract_runtime_min(n_tracks: int, chrom_bp: int) -> int:
    """Wall time (minutes) of one extract job: every track's chromosome is read once (see the constant)."""
    return max(10, math.ceil(EXTRACT_S_PER_TRACK_MB * n_tracks * chrom_bp / 1e6 / 60))


def chrom_length(fasta: str | os.PathLike[str], chrom: str) -> int:
    """Length of ``chrom`` from the FASTA's ``.fai`` (built if missing); the longest record if it has none."""
    fai = Path(f"{fasta}.fai")
    if not fai.is_file():
        from enformer_lite.data.fasta import open_fasta

        open_fasta(fasta)
    lengths = {}
    for line in fai.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 2:
            lengths[fields[0]] = int(fields[1])
    return lengths.get(chrom, max(lengths.values(), default=0))


def extract_need(tracks_table: str | os.PathLike[str], fasta: str | os.PathLike[str], chrom: str) -> tuple[int, int]:
    """(tracks, chromosome bp) of the extract job for ``chrom``: the tracks table's rows and the FASTA's index."""
    from enformer_lite.data.tracks import read_tracks_table

    return len(read_tracks_table(tracks_table)), chrom_length(fasta, chrom)
