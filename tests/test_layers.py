"""The package's layers: one geometry, one untransform, one TSS sum, one atomic replace, and the import rules.

The numbers are recomputed by hand here (Enformer's published geometry, the tracks-table formulas),
not taken from the code under test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from enformer_lite.atomic import atomic_directory
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.errors import InputError
from enformer_lite.inference.signal import tss_sum, untransform

PACKAGE = Path(__file__).resolve().parents[1] / "enformer_lite"


def test_enformer_geometry_by_hand() -> None:
    g = WindowGeometry(196_608, 128, 896)
    assert (g.n_bins, g.crop, g.crop_bp, g.target_span) == (1536, 320, 40_960, 114_688)
    assert g.target_start(1_000_000) == 1_040_960
    # TSS-centred window: the TSS sits in the middle of bin 768
    assert g.window_around_bin(500_000) == 500_000 - (768 * 128 + 64)
    assert list(g.centre_bins(1)) == [767, 768, 769]
    # variant-centred window on a 1024-bp grid: 5_000_700 lies 508 bp past 4883 × 1024 = 5_000_192, so rounds down
    assert g.window_around(5_000_700, 1024) == 5_000_192 - 98_304
    assert g.window_around(5_000_704, 1024) == 5_001_216 - 98_304
    assert g.window_around(5_000_700) == 5_000_700 - 98_304


@pytest.mark.parametrize("args", [(1000, 128, 4), (196_608, 128, 897), (196_608, 128, 1537), (0, 128, 1)])
def test_bad_geometry_is_an_input_error(args: tuple[int, int, int]) -> None:
    with pytest.raises(InputError, match="window geometry"):
        WindowGeometry(*args)


def test_centre_bins_past_the_output_are_refused() -> None:
    with pytest.raises(InputError, match="reaches past"):
        WindowGeometry(2048, 128, 4).centre_bins(3)


def test_tss_sum_equals_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    values = rng.random((10, 3)).astype(np.float32)
    bins = np.array([0, 4, 9])
    got = tss_sum(values, bins, 2)
    for g, b in enumerate(bins):
        expected = sum(values[i].astype(np.float64) for i in range(b - 2, b + 3) if 0 <= i < 10)
        np.testing.assert_allclose(got[g], expected, rtol=1e-12)


def test_untransform_units_by_hand() -> None:
    summed = TrackSpec(0, "s", "s.bw", sum_stat="sum", clip_soft=4.0, scale=0.5)
    mean = TrackSpec(1, "m", "m.bw", sum_stat="mean", scale=2.0)
    values = np.array([[1.0, 3.0], [4.0, 8.0]], dtype=np.float32)  # training scale, (bins, tracks)
    # sum track: /0.5 → 2, 8; soft clip undone above 4: 8 → 4 + (8 - 4)² = 20. mean track: /2 → 1.5, 4
    native = np.array([[2.0, 1.5], [20.0, 4.0]])
    np.testing.assert_allclose(untransform(values, [summed, mean], "native", 128), native)
    np.testing.assert_allclose(untransform(values, [summed, mean], "per_base", 128), native / [128, 1])
    np.testing.assert_allclose(untransform(values, [summed, mean], "bin_total", 128), native * [1, 128])
    with pytest.raises(ValueError, match="unit"):
        untransform(values, [summed, mean], "counts", 128)  # type: ignore[arg-type]


def test_atomic_directory_replaces_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_directory(out) as tmp:
        (tmp / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(out) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in out.iterdir()) == [".enformer-lite-output", "old.txt"]
    with atomic_directory(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [".enformer-lite-output", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary directory left behind


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_training_and_its_command_import_training() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("training/") or rel == "cli/train.py":
            continue
        if any(m == "enformer_lite.training" or m.startswith("enformer_lite.training.") for m in _imports(path)):
            offenders.append(rel)
    assert offenders == []


def test_the_data_layer_imports_no_higher_layer() -> None:
    higher = ("model", "training", "inference", "variants", "contributions", "plots", "cli", "simulate")
    offenders = []
    for path in (PACKAGE / "data").rglob("*.py"):
        for module in _imports(path):
            if any(module.startswith(f"enformer_lite.{layer}") for layer in higher):
                offenders.append(f"{path.name}: {module}")
    assert offenders == []


def test_every_subcommand_module_exists_and_follows_the_pattern() -> None:
    from enformer_lite.cli import COMMANDS, command_module
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(command_module(name))
        assert callable(getattr(module, "configure", None)) and callable(getattr(module, "run", None)), name


def test_no_package_file_is_over_400_lines() -> None:
    long = {p.relative_to(PACKAGE).as_posix(): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 420}
    assert long == {}
