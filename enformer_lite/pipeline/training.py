"""Process layout of training (devices × nodes) and what it asks of SLURM.

With one process, training is an ordinary job. With several, the job's command runs in the
batch step (``mpi: srun``) and :func:`train_launcher`'s ``srun`` starts one process per device
and node; Lightning reads its rank from SLURM (SLURMEnvironment).

With ``model.pretrained`` (:func:`finetune_mode`), ``train.finetune: none`` (the default then) makes
no training job: the published heads are written as ``best.ckpt``; ``head`` adds one embedding job
per genome; the other modes train as usual from the pretrained trunk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from enformer_lite.pipeline.resources import ResourceValue, gpu_count, job_resources, job_threads


def train_layout(config: Mapping[str, Any]) -> tuple[int, int]:
    """(processes per node, nodes) of training: train.trainer.devices × num_nodes.

    ``devices: auto`` means one process per requested GPU, or one process on CPU. Raises
    ValueError ("bad config: ...") when devices and resources.gpus.train disagree.
    """
    trainer = (config.get("train") or {}).get("trainer") or {}
    devices = trainer.get("devices", 1)
    nodes = int(trainer.get("num_nodes", 1))
    n_gpus = gpu_count(config["resources"], "train")
    if devices == "auto":
        per_node = max(1, n_gpus)
    elif isinstance(devices, int) or str(devices).isdigit():
        per_node = int(devices)
    else:
        raise ValueError(f"bad config: train.trainer.devices must be a number or 'auto', got {devices!r}")
    if per_node < 1 or nodes < 1:
        raise ValueError(f"bad config: train.trainer.devices ({devices}) and num_nodes ({nodes}) must be ≥ 1")
    if n_gpus and per_node != n_gpus:
        raise ValueError(
            f"bad config: resources.gpus.train is {n_gpus} GPUs per node but train.trainer.devices is "
            f"{devices}; training runs one process per GPU, so set both to the same number"
        )
    return per_node, nodes


def train_resources(config: Mapping[str, Any], mem_mb: int, runtime: int) -> dict[str, ResourceValue]:
    """Resources of the training job (``mem_mb`` per node).

    With more than one process, the SLURM task layout: ``mpi`` makes the executor run the rule's
    command in the batch step, where :func:`train_launcher`'s srun starts the processes; ``nodes``,
    ``tasks_per_node`` (or ``tasks`` with one process per node) size the allocation; on several
    nodes GPUs are asked per node (``gres``).
    """
    out = job_resources(config["resources"], mem_mb, runtime, gpus="train")
    per_node, nodes = train_layout(config)
    if per_node * nodes == 1:
        return out
    out["mpi"] = "srun"
    out["nodes"] = nodes
    if per_node > 1:
        out["tasks_per_node"] = per_node
    else:
        out["tasks"] = nodes
    if nodes > 1 and "gpu" in out:
        # --gpus counts the whole job; --gres counts per node, which is what one process per GPU needs.
        model = out.pop("gpu_model", "")
        out["gres"] = f"gpu:{str(model) + ':' if model else ''}{out.pop('gpu')}"
    return out


def train_launcher(config: Mapping[str, Any]) -> str:
    """Command prefix that starts the training processes.

    Inside a SLURM job with several processes, ``srun`` starts one per device and node; elsewhere
    the prefix expands to nothing and Lightning starts its own processes. Job steps see few
    SLURM_* variables, hence ``${VAR:+...}`` with VAR = SLURM_JOB_ID, which the executor keeps.
    """
    per_node, nodes = train_layout(config)
    if per_node * nodes == 1:
        return ""
    return (
        f"${{SLURM_JOB_ID:+srun --nodes={nodes} --ntasks-per-node={per_node} "
        f"--cpus-per-task={job_threads(config['resources'])} --kill-on-bad-exit=1}}"
    )


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
"""Weight files of a save_pretrained directory, in order of preference (as read_pretrained reads them)."""


def finetune_mode(config: Mapping[str, Any]) -> str | None:
    """None without ``model.pretrained``; else ``train.finetune`` (``none`` when unset: score with the published heads)."""
    if not (config.get("model") or {}).get("pretrained"):
        return None
    return (config.get("train") or {}).get("finetune") or "none"


def pretrained_inputs(config: Mapping[str, Any]) -> list[str]:
    """The files the pretrained model is read from: a save_pretrained directory's ``config.json`` and weights
    (or the one weights file), its targets tables and its regions BED. Raises ValueError ("bad config: ...")
    for a directory without weights."""
    model = config.get("model") or {}
    path = model.get("pretrained")
    if not path:
        return []
    files = [path]
    if os.path.isdir(path):
        weights = [os.path.join(path, name) for name in WEIGHT_FILES if os.path.isfile(os.path.join(path, name))]
        if not weights:
            raise ValueError(f"bad config: model.pretrained: {path} holds none of {', '.join(WEIGHT_FILES)}")
        files = [os.path.join(path, "config.json"), weights[0]]
    files += list((model.get("pretrained_tracks") or {}).values())
    if model.get("pretrained_regions"):
        files.append(model["pretrained_regions"])
    return files
