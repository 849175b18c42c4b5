"""Commands replace only output they wrote themselves, and clean up what killed runs left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from enformer_lite.atomic import MANIFEST, atomic_directory, atomic_output, check_replaceable, clean_stale_temporaries
from enformer_lite.errors import InputError


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_working_directory_and_its_parents_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "project" / "run"
    work.mkdir(parents=True)
    (work / "my_notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    for target in (".", "..", str(work), str(tmp_path)):
        with pytest.raises(InputError, match="working directory or one of its parents"):
            with atomic_directory(target) as tmp:
                (tmp / "x.bw").write_text("x")
    assert (work / "my_notes.txt").read_text() == "mine"


def test_a_directory_someone_else_filled_is_refused_and_untouched(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "data.txt").write_text("keep")
    with pytest.raises(InputError, match=f"{theirs}: refused as an output directory: it holds 1 file"):
        with atomic_directory(theirs) as tmp:
            (tmp / "x.bw").write_text("x")
    assert [p.name for p in theirs.iterdir()] == ["data.txt"]
    with pytest.raises(InputError, match="exists and is not a directory"):
        check_replaceable(theirs / "data.txt")


def test_own_output_is_replaced_but_not_when_a_user_file_was_added(tmp_path: Path) -> None:
    out = tmp_path / "predict"
    with atomic_directory(out) as tmp:
        (tmp / "a.bw").write_text("1")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.bw").write_text("2")
    assert (out / MANIFEST).read_text().split() == ["a.bw", "sub/b.bw"]
    with atomic_directory(out) as tmp:  # a rerun replaces what the previous run wrote
        (tmp / "c.bw").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "c.bw"]
    (out / "my_annotation.bed").write_text("mine")
    with pytest.raises(InputError, match="my_annotation.bed"):
        with atomic_directory(out) as tmp:
            (tmp / "d.bw").write_text("4")
    assert (out / "my_annotation.bed").read_text() == "mine" and (out / "c.bw").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty) as tmp:  # an empty directory may be used
        (tmp / "e.bw").write_text("5")
    assert (empty / "e.bw").exists()


def test_predict_cli_refuses_dot_and_leaves_the_directory_alone(tmp_path: Path) -> None:
    (tmp_path / "results.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "enformer_lite.cli", "predict", "--checkpoint", "none.ckpt", "--data", "none.h5",
         "--fasta", "none.fa", "--head", "human", "--outdir", "."],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "working directory" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["results.txt"]


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "data.h5"
    dead, alive = _dead_pid(), os.getppid()
    stale_file = tmp_path / f".data.h5.tmp{dead}"
    stale_dir = tmp_path / f".data.h5.tmp{dead}.abc123"
    live = tmp_path / f".data.h5.tmp{alive}"
    other = tmp_path / f".other.h5.tmp{dead}"
    stale_file.write_bytes(b"x" * 100)
    stale_dir.mkdir()
    (stale_dir / "part").write_text("x")
    live.write_text("in use")
    other.write_text("another output's")
    with atomic_output(final) as tmp:
        tmp.write_text("new")
    assert final.read_text() == "new"
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and other.exists()
    assert clean_stale_temporaries(tmp_path / "other.h5") == [other]


def test_sigterm_removes_the_temporary_of_an_unfinished_output(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys, time\n"
        "from enformer_lite.atomic import atomic_output\n"
        "from enformer_lite.cli.common import sigterm_exits\n"
        f"with sigterm_exits(), atomic_output({str(tmp_path / 'merged.h5')!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 143, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_contributions_refuse_a_users_directory_before_any_work(tmp_path: Path) -> None:
    mine = tmp_path / "tracks"
    mine.mkdir()
    (mine / "keep.bw").write_text("mine")
    result = subprocess.run([sys.executable, "-m", "enformer_lite.cli", "contributions", "gather", "none",
                             "--out-tsv", str(tmp_path / "t.tsv"), "--out-bedpe", str(tmp_path / "t.bedpe"),
                             "--out-tracks", str(mine)], capture_output=True, text=True)
    assert result.returncode == 2 and "refused as an output directory" in result.stderr, result.stderr
    assert [p.name for p in mine.iterdir()] == ["keep.bw"]
