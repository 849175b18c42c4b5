# Resources of every job, from the `resources:` config section: memory and wall time scaled from
# each rule's demo-scale need, GPUs for the rules that can use them, SLURM partition and account,
# and the process layout of (multi-GPU, multi-node) training. Rules write
#     threads: job_threads()            (only the torch-heavy rules)
#     resources: **job_resources(mem_mb=8000, runtime=60)
#     resources: **job_resources(mem_mb=16000, runtime=240, gpus="score")
# and the training rule uses train_resources() and train_launcher(). See profiles/README.md.
import math

RESOURCES = config["resources"]
GPU_GROUPS = ("train", "score", "contributions")


def job_threads() -> int:
    """Threads of a training, scoring or contribution job (SLURM --cpus-per-task)."""
    return int(RESOURCES["threads"])


def gpu_count(group: str) -> int:
    """GPUs per job (per node for training) configured for a GPU-capable rule group."""
    if group not in GPU_GROUPS:
        raise ValueError(f"unknown GPU group {group!r}, expected one of {', '.join(GPU_GROUPS)}")
    return int(RESOURCES["gpus"][group])


def scaled_by_attempt(amount: float):
    """Resource callable: ``amount`` rounded up on the first attempt, twice that on the second, ...

    A job killed for running out of memory or time is resubmitted with more when Snakemake may
    retry it (``--retries``; the SLURM profile allows one retry).
    """

    def value(wildcards, attempt: int) -> int:
        return max(1, math.ceil(amount * attempt))

    return value


def job_resources(mem_mb: int, runtime: int, gpus: str | None = None) -> dict:
    """Resources of one job: ``mem_mb`` (MB) and ``runtime`` (minutes) as needed at demo scale,
    multiplied by resources.mem_scale and runtime_scale and by the attempt number (1 for the first
    try, see scaled_by_attempt); for a GPU-capable rule
    (``gpus`` names its group in resources.gpus) ``gpu`` (SLURM --gpus, local --resources gpu=N)
    and ``gpu_model``; ``slurm_partition`` / ``slurm_account`` only where configured, so that a
    profile's default-resources still apply otherwise."""
    out = {
        "mem_mb": scaled_by_attempt(mem_mb * RESOURCES["mem_scale"]),
        "runtime": scaled_by_attempt(runtime * RESOURCES["runtime_scale"]),
    }
    n_gpus = gpu_count(gpus) if gpus else 0
    if n_gpus:
        out["gpu"] = n_gpus
        if RESOURCES["gpu_model"]:
            out["gpu_model"] = RESOURCES["gpu_model"]
    partition = (RESOURCES["gpu_partition"] if n_gpus else "") or RESOURCES["slurm_partition"]
    if partition:
        out["slurm_partition"] = partition
    if RESOURCES["slurm_account"]:
        out["slurm_account"] = RESOURCES["slurm_account"]
    return out


def train_layout() -> tuple[int, int]:
    """(processes per node, nodes) of training: train.trainer.devices × num_nodes.

    ``devices: auto`` means one process per requested GPU, or one process on CPU.
    """
    trainer = (config.get("train") or {}).get("trainer") or {}
    devices = trainer.get("devices", 1)
    nodes = int(trainer.get("num_nodes", 1))
    n_gpus = gpu_count("train")
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


def train_resources(mem_mb: int, runtime: int) -> dict:
    """Resources of the training job (per node for mem_mb); with more than one process, the
    SLURM task layout: ``mpi`` makes the executor run the rule's command in the batch step, where
    train_launcher()'s srun starts the processes; ``nodes``, ``tasks_per_node`` (or ``tasks`` with one
    process per node) size the allocation; on several nodes GPUs are asked per node (--gres)."""
    out = job_resources(mem_mb, runtime, gpus="train")
    per_node, nodes = train_layout()
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
        out["gres"] = f"gpu:{model + ':' if model else ''}{out.pop('gpu')}"
    return out


def train_launcher() -> str:
    """Command prefix that starts the training processes.

    Inside a SLURM job with several processes, ``srun`` starts one per device and node and Lightning
    reads its rank from SLURM (SLURMEnvironment); elsewhere the prefix expands to nothing and
    Lightning starts its own processes. Job steps see few SLURM_* variables, hence ${VAR:+...}
    with VAR = SLURM_JOB_ID, which the executor keeps.
    """
    per_node, nodes = train_layout()
    if per_node * nodes == 1:
        return ""
    return (
        f"${{SLURM_JOB_ID:+srun --nodes={nodes} --ntasks-per-node={per_node} "
        f"--cpus-per-task={job_threads()} --kill-on-bad-exit=1}}"
    )
