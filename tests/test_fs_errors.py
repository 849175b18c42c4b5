"""Full disk, read-only file system, permission denied: one clear message, no traceback, no partial output.

Each test runs the real command line in a subprocess, as a user would, against a real
condition: a tiny private tmpfs (``unshare -m`` + ``mount -t tmpfs -o size=...``) that
fills up, a tmpfs mounted read-only, or an unprivileged user (``setpriv`` to nobody)
facing a directory without write permission or a file without read permission. Where
the mechanism is not available (not root, no user namespaces, no setpriv) the test is
skipped with the reason. The full-disk HDF5 cases used to segfault at exit (h5py issue
914; see :mod:`enformer_lite.atomic`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from conftest import TinyGenome, make_tiny_genome
from enformer_lite.cli import main
from enformer_lite.data.fasta import open_fasta
from test_extract import geometry

CLI = [sys.executable, "-m", "enformer_lite.cli"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# Mounts a private tmpfs on $MNT, optionally fills it, runs the command, lists the files left on the mount.
MOUNT_SCRIPT = """
mount -t tmpfs -o "$OPTIONS" tmpfs "$MNT" || exit 97
if [ -n "$FILL" ]; then head -c 64M /dev/zero > "$MNT/ballast" 2>/dev/null; fi
"$@"
rc=$?
find "$MNT" -mindepth 1 -type f ! -name ballast > "$LISTING"
exit $rc
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **extra}


@functools.cache
def _unshare() -> list[str] | str:
    """The ``unshare`` prefix that gives a private mount namespace, or why there is none."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        return "unshare or mount is not installed"
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    with tempfile.TemporaryDirectory() as probe:
        result = subprocess.run([*prefix, "sh", "-c", 'mount -t tmpfs -o size=16k tmpfs "$0"', probe],
                                capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return f"cannot mount a private tmpfs ({' '.join(prefix)}): {result.stderr.strip()}"
    return prefix


@functools.cache
def _nobody_reason() -> str | None:
    """Why commands cannot be run as the unprivileged user nobody, or None when they can."""
    if os.geteuid() != 0:
        return "permissions are tested by switching from root to nobody; not running as root"
    if not shutil.which("setpriv"):
        return "setpriv is not installed"
    result = subprocess.run([*NOBODY, *CLI, "--version"], capture_output=True, text=True, env=_env(HOME="/tmp"), timeout=120)
    if result.returncode != 0:
        return f"the venv or repository is not usable by nobody: {result.stderr.strip()[-300:]}"
    return None


def run_on_mount(tmp_path: Path, options: str, args: Sequence[str], fill: bool = False) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``enformer-lite ARGS`` with a private tmpfs (``mount -o OPTIONS``) on ``tmp_path/mnt``.

    Returns the finished process and the files left on the mount (a ``ballast`` file that
    fills it when ``fill`` is not counted). The mount vanishes with the process.
    """
    prefix = _unshare()
    if isinstance(prefix, str):
        pytest.skip(prefix)
    (tmp_path / "mnt").mkdir()
    listing = tmp_path / "listing.txt"
    env = _env(OPTIONS=options, MNT=str(tmp_path / "mnt"), LISTING=str(listing), FILL="1" if fill else "")
    result = subprocess.run([*prefix, "sh", "-c", MOUNT_SCRIPT, "sh", *CLI, *args],
                            capture_output=True, text=True, env=env, timeout=600)
    if result.returncode == 97:
        pytest.skip(f"mount -t tmpfs -o {options} failed: {result.stderr.strip()}")
    return result, listing.read_text().split()


def run_as_nobody(args: Sequence[str], home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``enformer-lite ARGS`` as the unprivileged user nobody (skips when that is impossible)."""
    reason = _nobody_reason()
    if reason:
        pytest.skip(reason)
    return subprocess.run([*NOBODY, *CLI, *args], capture_output=True, text=True, env=_env(HOME=str(home)), timeout=600)


def assert_clean_error(result: subprocess.CompletedProcess[str], path: Path, condition: str) -> None:
    """Exit status 1 (not a crash: 139 / -11), one message naming ``path`` and ``condition``, no traceback."""
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("enformer-lite ")]
    assert len(message) == 1, result.stderr
    assert f"error: {path}" in message[0], message[0]
    assert condition.lower() in message[0].lower(), message[0]


def windows_args(genome: TinyGenome, out: Path) -> list[str]:
    return ["windows", "--fasta", str(genome.fasta), "--valid", "chr2", "--test", "chr3", "--out", str(out), *geometry()]


def extract_args(genome: TinyGenome, bed: Path, out: Path) -> list[str]:
    return ["extract", "--fasta", str(genome.fasta), "--tracks", str(genome.tracks), "--windows", str(bed),
            "--chrom", "chr1", "--genome", "human", "--out", str(out), *geometry()]


@pytest.fixture
def windows_bed(tiny_genome: TinyGenome, tmp_path: Path) -> Path:
    bed = tmp_path / "windows.bed"
    assert main(windows_args(tiny_genome, bed)) == 0
    return bed


def test_extract_into_full_disk(tiny_genome: TinyGenome, windows_bed: Path, tmp_path: Path) -> None:
    out = tmp_path / "mnt" / "parts" / "chr1.h5"  # about 33 kB of HDF5 into 16 kB
    result, left = run_on_mount(tmp_path, "size=16k", extract_args(tiny_genome, windows_bed, out))
    assert_clean_error(result, out, "No space left on device")
    assert "df -h" in result.stderr and left == []


def test_windows_into_full_disk(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    out = tmp_path / "mnt" / "windows.bed"
    result, left = run_on_mount(tmp_path, "size=64k", windows_args(tiny_genome, out), fill=True)
    assert_clean_error(result, out, "No space left on device")
    assert left == []


@pytest.fixture(scope="module")
def variants_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny genome, VCF and checkpoint, from the score-variants tests' own helpers."""
    from test_variants_cli import CHROMS, save_checkpoint
    from test_variants_support import random_genome, write_vcf

    root = tmp_path_factory.mktemp("fs_variants")
    fasta, seq = random_genome(root, CHROMS, seed=3)
    rng = np.random.default_rng(3)
    records = []
    for chrom, text in seq.items():
        for pos in sorted(rng.choice(np.arange(300, len(text) - 300), size=20, replace=False).tolist()):
            ref = text[pos - 1]
            records.append(f"{chrom}\t{pos}\tv{chrom}_{pos}\t{ref}\t{'A' if ref != 'A' else 'C'}")
    vcf = write_vcf(root / "calls.vcf", records, CHROMS, bgzip=True)
    save_checkpoint(root / "model.ckpt")
    return {"fasta": fasta, "vcf": vcf, "ckpt": root / "model.ckpt"}


def test_score_variants_into_full_disk(variants_world: dict[str, Path], tmp_path: Path) -> None:
    """The score file (hundreds of kB of HDF5) into 64 kB: this segfaulted at exit."""
    prefix = tmp_path / "mnt" / "scores" / "calls"
    args = ["score-variants", "--vcf", str(variants_world["vcf"]), "--fasta", str(variants_world["fasta"]),
            "--checkpoint", str(variants_world["ckpt"]), "--head", "human", "--grid", "32", "--batch-size", "8",
            "--params", '{"variants": {"shifts": [0]}}', "--out-prefix", str(prefix)]
    result, left = run_on_mount(tmp_path, "size=64k", args)
    assert_clean_error(result, Path(f"{prefix}.h5"), "No space left on device")
    assert left == []


def test_predict_into_full_disk(tmp_path: Path) -> None:
    """predict's bigWigs (libBigWig aborted with a double free) onto a full file system."""
    from enformer_lite.training.config import TrainConfig
    from enformer_lite.training.train import train
    from test_predict import SIZES
    from test_train_support import REAL_TINY_MODEL, write_h5

    rng = np.random.default_rng(5)
    fasta = tmp_path / "genome.fa"
    fasta.write_text("".join(f">{name}\n{''.join(rng.choice(list('ACGT'), size=n))}\n" for name, n in SIZES.items()))
    data = write_h5(tmp_path / "human.h5", "human", ["train", "valid", "test"], seed=5)
    cfg = TrainConfig.from_dict({"max_steps": 1, "batch_size": 1, "val_check_interval": 1, "progress_bar": False})
    model_dir = train({"human": data}, tmp_path / "model", REAL_TINY_MODEL, cfg)
    outdir = tmp_path / "mnt" / "bigwigs"
    args = ["predict", "--checkpoint", str(model_dir / "best.ckpt"), "--data", str(data), "--fasta", str(fasta),
            "--outdir", str(outdir), "--region", "chr2:100-420", "--params", '{"predict": {"batch_size": 1}}']
    result, left = run_on_mount(tmp_path, "size=64k", args, fill=True)
    assert_clean_error(result, outdir, "No space left on device")
    assert left == []


@pytest.mark.parametrize("command", ["windows", "extract"])
def test_output_on_read_only_file_system(command: str, tiny_genome: TinyGenome, windows_bed: Path, tmp_path: Path) -> None:
    out = tmp_path / "mnt" / ("windows.bed" if command == "windows" else "chr1.h5")
    args = windows_args(tiny_genome, out) if command == "windows" else extract_args(tiny_genome, windows_bed, out)
    result, left = run_on_mount(tmp_path, "ro,size=64k", args)
    assert_clean_error(result, out, "Read-only file system")
    assert left == []


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory nobody can read (pytest's own tmp_path is private to root), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="enformer-lite-fs-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def shared_genome(shared_dir: Path) -> TinyGenome:
    genome = make_tiny_genome(shared_dir / "genome")
    open_fasta(genome.fasta)  # the .fai, which nobody could not write beside the FASTA
    return genome


@pytest.mark.parametrize("subdir", ["", "sub"])
def test_output_directory_without_write_permission(subdir: str, shared_genome: TinyGenome, shared_dir: Path) -> None:
    denied = shared_dir / "denied"
    denied.mkdir()
    denied.chmod(0o555)
    out = denied / subdir / "windows.bed"
    result = run_as_nobody(windows_args(shared_genome, out), shared_dir)
    assert_clean_error(result, denied / subdir if subdir else out, "Permission denied")
    assert list(denied.iterdir()) == []


def test_input_without_read_permission(shared_genome: TinyGenome, shared_dir: Path) -> None:
    secret = shared_genome.root / "secret.fa"
    shutil.copy(shared_genome.fasta, secret)
    secret.chmod(0o600)
    out = shared_dir / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    result = run_as_nobody(["windows", "--fasta", str(secret), "--out", str(out / "windows.bed"), *geometry()], shared_dir)
    assert_clean_error(result, secret, "Permission denied")
    assert list(out.iterdir()) == []
