"""The ci workflow on a real single-node SLURM cluster, through `snakemake --profile profiles/slurm`.

Opt-in, because it installs packages, starts daemons as root and takes ~15 minutes:

    ENFORMER_LITE_SLURM_TEST=1 pytest -s tests/test_slurm_cluster.py

(`.ci/run` does this). With ENFORMER_LITE_LOCAL_RUN=DIR it compares against a finished local run
of `snakemake --configfile config/ci.yaml` in DIR; otherwise it makes that run itself first.

What it shows, in order:
1. tests/slurm/start.sh starts munged, slurmctld and slurmd (one fake GPU, so GPU requests are
   scheduled for real); the workflow runs in a copy of the checkout.
2. The training job asks for a GPU and gets it from the scheduler; once it has written a resume
   checkpoint it is cancelled with scancel. Snakemake reports the failed job with its SLURM log.
3. The same command again (the profile sets --rerun-incomplete), for the model: the training job
   resumes from results/model/run/checkpoints/last.ckpt and finishes.
4. Training is not bit-identical after a kill (the resumed attempt draws its batches afresh), so
   the cluster's model is compared with the local one loosely: same logged steps, same parameter
   names and shapes, same metadata and global step, finite losses, and a final validation loss
   within 5% (+0.05) of the local one.
5. The local run's model is then copied in and the cluster runs the rest of the workflow from it,
   so that everything computed from the model can be compared exactly: the simulated world,
   windows.bed, data.h5 (datasets and attributes), evaluation tables, predicted bigWigs, variant
   scores (tables, HDF5, annotated VCF) and contributions equal the local files (JSON summaries
   apart from their run times); figures have the same pixels (PNG) or at least exist (PDF, which
   carry a creation date).
6. Scattered rules ran as one cluster job each (extraction per chromosome, variant scoring per
   VCF chunk, contributions per gene chunk).
7. Training with two processes (DDP on CPU): sbatch --ntasks-per-node=2, srun starts them, and
   Lightning takes rank and world size from SLURM.
8. tests/slurm/stop.sh cancels leftover jobs and stops exactly the daemons start.sh started.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLURM_DIR = ROOT / "tests" / "slurm"
ENABLE = "ENFORMER_LITE_SLURM_TEST"
LOCAL_RUN = "ENFORMER_LITE_LOCAL_RUN"
CI_CONFIG = "config/ci.yaml"
CHECKPOINT = Path("results/model/run/checkpoints/last.ckpt")
WORKFLOW_TIMEOUT = 25 * 60  # seconds for one snakemake invocation

pytestmark = pytest.mark.skipif(
    os.environ.get(ENABLE) != "1",
    reason=f"starts a SLURM cluster as root (apt-get, daemons, ~15 min); set {ENABLE}=1 to run it",
)


def log(message: str) -> None:
    print(f"[slurm-test {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_env(checkout: Path) -> dict[str, str]:
    """Environment of a workflow run in ``checkout``: this interpreter's bin directory (enformer-lite,
    snakemake) first on PATH, and the package imported from the checkout itself (PYTHONPATH), not
    from wherever it was installed from; SLURM jobs inherit both (sbatch --export=ALL)."""
    python_path = os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": python_path}


OUTPUTS = {".git", ".venv", ".venv-ci", ".snakemake", "resources", "results", "logs", "benchmarks", ".pytest_cache"}


def copy_checkout(dest: Path) -> Path:
    """The working tree (tracked files and untracked, non-ignored ones), without outputs."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True)
    if listed.returncode == 0:
        rels = listed.stdout.decode().split("\0")
    else:  # not a git checkout: everything but outputs and environments
        rels = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                if p.relative_to(ROOT).parts[0] not in OUTPUTS and "__pycache__" not in p.parts
                and not any(part.endswith(".egg-info") for part in p.parts)]
    for rel in filter(None, rels):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running single-node cluster (state and daemon logs in the yielded directory)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: installs munge/slurm and starts their daemons")
    state = tmp_path_factory.mktemp("slurm-state")
    started = subprocess.run(["bash", str(SLURM_DIR / "start.sh"), str(state), "1"],
                             capture_output=True, text=True)
    log(started.stderr.strip())
    try:
        if started.returncode in (3, 4, 5):
            pytest.skip(f"cannot start a SLURM cluster here: {started.stderr.strip().splitlines()[-1]}")
        assert started.returncode == 0, f"start.sh failed ({started.returncode}):\n{started.stderr}"
        yield state
    finally:
        for name in ("slurmctld.log", "slurmd.log"):
            if (state / name).is_file():
                tail = (state / name).read_text(errors="replace").splitlines()[-15:]
                log(f"last lines of {state / name}:\n" + "\n".join(tail))
        stopped = subprocess.run(["bash", str(SLURM_DIR / "stop.sh"), str(state)], capture_output=True, text=True)
        log(stopped.stderr.strip())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a finished local ci run: ENFORMER_LITE_LOCAL_RUN or one made here."""
    given = os.environ.get(LOCAL_RUN)
    if given:
        path = Path(given).resolve()
        assert (path / "results").is_dir(), f"{LOCAL_RUN}={given} holds no results/"
        return path
    work = copy_checkout(tmp_path_factory.mktemp("local"))
    log(f"local reference run in {work}")
    done = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "profiles/local", "--cores", "2",
                           "--configfile", CI_CONFIG], cwd=work, env=run_env(work), capture_output=True, text=True,
                          timeout=WORKFLOW_TIMEOUT)
    assert done.returncode == 0, done.stderr[-5000:]
    return work


def squeue() -> list[dict[str, str]]:
    """Jobs the cluster knows (pending, running, and finished ones younger than MinJobAge)."""
    out = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%T|%k"], capture_output=True, text=True,
                         check=True).stdout
    return [dict(zip(("id", "state", "comment"), line.split("|", 2))) for line in out.splitlines() if line]


def snakemake_slurm(work: Path, *extra: str) -> list[str]:
    """The SLURM-profile command for the cluster above.

    This cluster has no accounting database, so job status comes from squeue (MinJobAge is 600 s in
    start.sh); the polling intervals are shortened for a single idle node.
    """
    return [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--configfile", CI_CONFIG,
            "slurm_overrides.yaml", "--slurm-status-command", "squeue",
            "--slurm-init-seconds-before-status-checks", "5", "--seconds-between-status-checks", "5",
            "--latency-wait", "10", "--slurm-keep-successful-logs", *extra]


def kill_training_after_checkpoint(proc: subprocess.Popen, work: Path) -> str:
    """Wait until the training job runs and has a resume checkpoint, then scancel it; its job id."""
    deadline = time.time() + WORKFLOW_TIMEOUT
    while time.time() < deadline:
        assert proc.poll() is None, "the workflow ended before the training job could be cancelled"
        running = [j for j in squeue() if j["comment"] == "rule_train" and j["state"] == "RUNNING"]
        if running and (work / CHECKPOINT).is_file():
            job_id = running[0]["id"]
            details = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
            assert re.search(r"gres/gpu[:=]1\b|gpu:1\b", details), f"training job got no GPU:\n{details}"
            subprocess.run(["scancel", job_id], check=True)
            log(f"cancelled training job {job_id} after its first checkpoint")
            return job_id
        time.sleep(1)
    raise AssertionError("training job never wrote a checkpoint")


@dataclasses.dataclass
class SlurmRun:
    """The cluster run: its directory and what Snakemake printed in each round."""

    work: Path
    killed_job: str
    first: str  # the round in which the training job was cancelled
    resumed: str  # the round that finished training
    rest: str  # the round that ran everything after training, from the local model
    cluster_model: Path  # the model trained on the cluster (set aside before the local one came in)


def run_round(work: Path, *extra: str, config: tuple[str, ...] = ()) -> str:
    """One snakemake invocation on the cluster; its output (asserts success)."""
    command = snakemake_slurm(work, *extra)
    where = command.index("slurm_overrides.yaml") + 1
    command[where:where] = list(config)
    done = subprocess.run(command, cwd=work, env=run_env(work), capture_output=True, text=True, timeout=WORKFLOW_TIMEOUT)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


@pytest.fixture(scope="module")
def slurm_run(cluster: Path, local_run: Path, tmp_path_factory: pytest.TempPathFactory) -> SlurmRun:
    work = copy_checkout(tmp_path_factory.mktemp("slurm-run"))
    # One (fake) GPU for training, as a GPU cluster would give; CUDA is absent, so Lightning still
    # trains on the CPU. Frequent checkpoints give the kill below something to resume from; they
    # do not change what is learnt.
    (work / "slurm_overrides.yaml").write_text(
        "resources:\n  gpus: {train: 1}\ntrain:\n  checkpoint_every_n_steps: 2\n"
    )
    log(f"SLURM run in {work}")
    first_out = work / "first.out"
    with open(first_out, "w") as out:
        proc = subprocess.Popen(snakemake_slurm(work, "--retries", "0"), cwd=work, env=run_env(work), stdout=out,
                                stderr=subprocess.STDOUT, text=True)
        try:
            killed = kill_training_after_checkpoint(proc, work)
            proc.wait(timeout=WORKFLOW_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode != 0, "the workflow should fail when its training job is cancelled"
    log("first round failed as expected; the same command again, for the model")
    resumed = run_round(work, "results/model/best.ckpt")
    cluster_model = work / "model_trained_on_the_cluster"
    shutil.copytree(work / "results/model", cluster_model, ignore=shutil.ignore_patterns("run"))
    for name in ("best.ckpt", "last.ckpt", "metrics.csv"):
        shutil.copyfile(local_run / "results/model" / name, work / "results/model" / name)
    log("the rest of the workflow on the cluster, from the local run's model")
    rest = run_round(work)
    log("cluster run finished")
    return SlurmRun(work, killed, first_out.read_text(), resumed, rest, cluster_model)


def test_cancelled_job_is_reported_with_its_log(slurm_run: SlurmRun) -> None:
    slurm_log = slurm_run.work / "logs" / "slurm" / "rule_train" / f"{slurm_run.killed_job}.log"
    assert "Error in rule train" in slurm_run.first
    assert "CANCELLED" in slurm_run.first
    assert slurm_log.is_file()
    assert str(slurm_log) in slurm_run.first, slurm_run.first[-4000:]


def test_rerun_resumes_training_from_its_checkpoint(slurm_run: SlurmRun) -> None:
    train_log = (slurm_run.work / "logs" / "train.log").read_text()
    assert re.search(r"resuming from \S*checkpoints/last\.ckpt", train_log), train_log[-3000:]
    assert re.search(r"^rule train:", slurm_run.resumed, re.M)
    assert not re.search(r"^rule train:", slurm_run.rest, re.M), "the copied model should not be retrained"


def cluster_jobs(work: Path, rule: str) -> int:
    """SLURM jobs a rule ran as (one log file each, kept by --slurm-keep-successful-logs)."""
    return len(list((work / "logs" / "slurm" / f"rule_{rule}").rglob("*.log")))


def test_scattered_rules_are_separate_cluster_jobs(slurm_run: SlurmRun) -> None:
    work = slurm_run.work
    parts = 0
    for bed in (work / "results").glob("*/windows.bed"):
        parts += len({line.split("\t", 1)[0] for line in bed.read_text().splitlines() if line})
    assert parts > 2
    assert cluster_jobs(work, "extract") == parts
    for rule, outputs in scatter_outputs(work).items():
        assert cluster_jobs(work, rule) == outputs > 1, (rule, cluster_jobs(work, rule), outputs)


def scatter_outputs(work: Path) -> dict[str, int]:
    """Rule → number of chunk jobs the ci config asks for."""
    import yaml

    config = yaml.safe_load((work / CI_CONFIG).read_text())
    return {
        "score_variants": config["variants"]["n_chunks"] * len(config["variants"]["vcfs"]),
        "contributions_chunk": config["contributions"]["chunks"] * len(config["genomes"]),
    }


# ---------------------------------------------------------------- comparison with the local run


def h5_differences(a: Path, b: Path) -> list[str]:
    """Datasets (dtype, shape, values) and attributes that differ between two HDF5 files."""
    import h5py
    import numpy as np

    diffs: list[str] = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a: list[str] = []
        names_b: list[str] = []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if names_a != names_b:
            return [f"objects {names_a} vs {names_b}"]
        for name in ["/", *names_a]:
            oa, ob = fa[name], fb[name]
            if oa.attrs.keys() != ob.attrs.keys() or any(
                not np.array_equal(oa.attrs[k], ob.attrs[k]) for k in oa.attrs
            ):
                diffs.append(f"{name}: attributes differ")
            if isinstance(oa, h5py.Dataset):
                if oa.dtype != ob.dtype or oa.shape != ob.shape:
                    diffs.append(f"{name}: {oa.dtype}{oa.shape} vs {ob.dtype}{ob.shape}")
                elif not np.array_equal(oa[()], ob[()], equal_nan=oa.dtype.kind in "fc"):
                    diffs.append(f"{name}: values differ")  # NaN (no score) equals NaN at the same place
    return diffs


def bigwig_differences(a: Path, b: Path) -> list[str]:
    import pyBigWig

    fa, fb = pyBigWig.open(str(a)), pyBigWig.open(str(b))
    try:
        if fa.chroms() != fb.chroms():
            return ["chromosomes differ"]
        return [f"{chrom}: intervals differ" for chrom in fa.chroms()
                if (fa.intervals(chrom) or ()) != (fb.intervals(chrom) or ())]
    finally:
        fa.close()
        fb.close()


def content(path: Path) -> bytes:
    """File bytes; gzip/bgzip files decompressed (their headers may hold a time stamp)."""
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def without_timings(value: object) -> object:
    """A JSON value without its wall-clock measurements (keys named ``seconds`` or ``*_seconds``)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not (k == "seconds" or k.endswith("_seconds"))}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def file_differences(a: Path, b: Path) -> list[str]:
    if a.suffix == ".h5":
        return h5_differences(a, b)
    if a.suffix in (".bw", ".bigWig", ".bigwig"):
        return bigwig_differences(a, b)
    if a.suffix == ".json":
        return [] if without_timings(json.loads(a.read_text())) == without_timings(json.loads(b.read_text())) else [
            "content differs"]
    if a.suffix == ".png":
        import matplotlib.image
        import numpy as np

        return [] if np.array_equal(matplotlib.image.imread(a), matplotlib.image.imread(b)) else ["pixels differ"]
    if a.suffix == ".pdf":
        return [] if b.stat().st_size > 0 else ["empty"]
    return [] if content(a) == content(b) else ["content differs"]


def tree_differences(local: Path, cluster: Path, rels: list[Path]) -> list[str]:
    diffs = []
    for rel in rels:
        if not (cluster / rel).is_file():
            diffs.append(f"{rel}: missing in the cluster run")
            continue
        diffs += [f"{rel}: {d}" for d in file_differences(local / rel, cluster / rel)]
    return diffs


def files_under(base: Path, *patterns: str) -> list[Path]:
    return sorted({p.relative_to(base) for pattern in patterns for p in base.glob(pattern) if p.is_file()})


def test_data_outputs_equal_the_local_run(slurm_run: SlurmRun, local_run: Path) -> None:
    rels = files_under(local_run, "resources/ci/**/*", "results/*/windows.bed", "results/*/data.h5")
    assert any(r.name == "data.h5" for r in rels) and any(r.name == "windows.bed" for r in rels)
    differences = tree_differences(local_run, slurm_run.work, rels)
    assert not differences, differences


def checkpoint_summary(path: Path) -> dict:
    """What two trainings of the same model on the same data share, even if their weights differ."""
    import torch

    raw = torch.load(path, map_location="cpu", weights_only=False)
    return {
        "shapes": {k: tuple(v.shape) for k, v in raw["state_dict"].items()},
        "meta": repr(sorted(raw.get("hyper_parameters", {}).items())),
        "global_step": raw["global_step"],
    }


def test_training_matches_the_local_run_loosely(slurm_run: SlurmRun, local_run: Path) -> None:
    import numpy as np
    import pandas as pd

    for name in ("best.ckpt", "last.ckpt"):
        ours = checkpoint_summary(slurm_run.cluster_model / name)
        assert ours == checkpoint_summary(local_run / "results/model" / name), name
    ours = pd.read_csv(slurm_run.cluster_model / "metrics.csv")
    theirs = pd.read_csv(local_run / "results/model/metrics.csv")
    for column in ("train/loss", "val/loss"):
        assert ours.dropna(subset=[column])["step"].tolist() == theirs.dropna(subset=[column])["step"].tolist()
        assert np.isfinite(ours[column].dropna()).all()
    final = [frame.dropna(subset=["val/loss"])["val/loss"].iloc[-1] for frame in (ours, theirs)]
    log(f"final validation loss: cluster (killed and resumed) {final[0]:.4f}, local {final[1]:.4f}")
    # Two local trainings with different seeds (other initial weights and batches) ended 0.01 apart
    # on the ci data; a resumed run only draws its later batches afresh.
    assert abs(final[0] - final[1]) <= 0.05 * abs(final[1]) + 0.05


def model_outputs(base: Path) -> list[Path]:
    """Every output computed from the trained model, figures included."""
    return [rel for rel in files_under(base, "results/**/*")
            if rel.parts[1] != "model" and rel.name not in ("windows.bed", "data.h5") and "parts" not in rel.parts]


def test_outputs_from_the_same_model_equal_the_local_run(slurm_run: SlurmRun, local_run: Path) -> None:
    expected = model_outputs(local_run)
    assert any(rel.parts[1] == "variants" for rel in expected) and any(rel.suffix == ".png" for rel in expected)
    assert model_outputs(slurm_run.work) == expected
    differences = tree_differences(local_run, slurm_run.work, expected)
    assert not differences, differences


def test_multi_process_training_is_launched_by_srun(slurm_run: SlurmRun) -> None:
    """Two training processes in one job (CPU, DDP): sbatch --ntasks-per-node=2, srun starts them
    and Lightning reads rank and world size from SLURM. A tiny model and 4 steps keep it short;
    it runs last because it replaces the run's model."""
    work = slurm_run.work
    (work / "ddp.yaml").write_text(
        "resources: {threads: 1, gpus: {train: 0}}\nmodel: {preset: tiny}\n"
        "train: {max_steps: 4, val_check_interval: 2, checkpoint_every_n_steps: 2, batch_size: 1,\n"
        "        limit_val_batches: 2, trainer: {devices: 2, strategy: ddp, accelerator: cpu}}\n"
    )
    output = run_round(work, "--retries", "0", "results/model/best.ckpt", config=("ddp.yaml",))
    job_id = re.findall(r"submitted with SLURM jobid (\d+)", output)[-1]
    details = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    assert re.search(r"NumTasks=2\b", details), details
    train_log = (work / "logs" / "train.log").read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in train_log and "GLOBAL_RANK: 1, MEMBER: 2/2" in train_log, train_log[-3000:]
    assert checkpoint_summary(work / "results/model/last.ckpt")["global_step"] == 4
