"""Calibrated variant scores: signed quantiles against a background, the loaded background and its checks."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from enformer_lite.data.tracks import TrackSpec, tracks_to_json
from enformer_lite.errors import InputError
from enformer_lite.interpret.background import merged_intervals, sample_background
from enformer_lite.interpret.calibrate import Background, scoring_meta, signed_quantiles

TRACKS = [TrackSpec(index=i, id=f"t{i}", file=f"t{i}.bw") for i in range(2)]


def test_background_median_is_near_zero_and_max_near_one() -> None:
    rng = np.random.default_rng(0)
    background = rng.normal(size=(2001, 2)) * np.array([1.0, 5.0])
    median = np.median(background, axis=0)
    q = signed_quantiles(np.vstack([median, background.max(axis=0), background.min(axis=0)]), background)
    assert np.all(np.abs(q[0]) < 0.05)  # the sample median sits within a few % of |background| of 0
    assert np.all(q[1] > 0.99) and np.all(q[2] < -0.99)
    # independent check against a plain count: share of |background| below |x|, with the sign of x
    x = np.array([[0.7, -3.0]])
    expected = np.sign(x) * (np.abs(background) < np.abs(x)).mean(axis=0)
    np.testing.assert_allclose(signed_quantiles(x, background), expected, atol=1 / 2001)
    assert np.all(np.abs(signed_quantiles(background, background)) <= 1)


def test_quantiles_handle_nan_and_ties() -> None:
    bg = np.array([[0.0], [1.0], [1.0], [np.nan]])
    q = signed_quantiles(np.array([[1.0], [np.nan], [-2.0]]), bg)
    np.testing.assert_allclose(q[[0, 2], 0], [(1 + 0.5 * 2) / 3, -1.0])
    assert np.isnan(q[1, 0])


def _score_file(path, chroms, positions, refs, alts, sad, head="human") -> None:
    """A variant score HDF5 in the layout of enformer_lite.variants.store (written with h5py directly)."""
    n = len(positions)
    text = h5py.string_dtype()
    with h5py.File(path, "w") as h5:
        h5.attrs.update({"tracks": tracks_to_json(TRACKS), "head": head, "window_length": 1024, "bin_size": 16,
                         "target_length": 32})
        a = h5.create_group("alleles")
        a["record"], a["alt_index"] = np.arange(n), np.zeros(n, np.int32)
        for name, values in (("chrom", chroms), ("vcf_chrom", chroms), ("id", [f"v{i}" for i in range(n)]),
                             ("ref", refs), ("alt", alts)):
            a.create_dataset(name, data=list(values), dtype=text)
        a["pos"], a["flipped"], a["window_start"] = np.asarray(positions), np.zeros(n, bool), np.zeros(n, np.int64)
        s = h5.create_group("scores")
        for name in ("SAD", "LOG2R", "D2", "MAXD"):
            s[name] = np.asarray(sad, np.float32)
        for group in ("skipped", "genes", "gene_scores"):
            h5.create_group(group)


def test_background_loads_sorted_magnitudes_and_checks_the_scoring(tmp_path) -> None:
    """Background.load keeps |scores| sorted per track; quantiles equal scipy's mean percentile rank.
    (The calibrated variant outputs are checked in tests/test_variants_quantiles.py.)"""
    rng = np.random.default_rng(1)
    bg = rng.normal(size=(300, 2))
    _score_file(tmp_path / "bg.h5", ["chr1"] * 300, np.arange(1, 301), ["A"] * 300, ["C"] * 300, bg)
    background = Background.load(tmp_path / "bg.h5", ("SAD", "MAXD"), "sampled SNPs")
    assert background.size == 300 and background.names == ["SAD", "MAXD"] and background.source == "sampled SNPs"
    assert Background.load(tmp_path / "bg.h5").source == "bg.h5"
    x = np.array([[10.0, 0.0], [-0.3, float(bg[5, 1])], [np.nan, -1.0]])
    q = background.quantiles("SAD", x)
    stored = bg.astype(np.float32)  # the file holds float32
    for i, j in np.ndindex(2, 2):
        expected = percentileofscore(np.abs(stored[:, j]), abs(x[i, j]), kind="mean") / 100 * np.sign(x[i, j])
        assert q[i, j] == pytest.approx(expected)
    assert np.isnan(q[2, 0]) and q[2, 1] < 0
    _score_file(tmp_path / "s.h5", ["chr1"], [5], ["A"], ["C"], [[1.0, 1.0]])
    with h5py.File(tmp_path / "s.h5") as h5:
        background.check(scoring_meta(h5), tmp_path / "s.h5")  # scored the same way
    _score_file(tmp_path / "other.h5", ["chr1"], [5], ["A"], ["C"], [[1.0, 1.0]], head="mouse")
    with h5py.File(tmp_path / "other.h5") as h5, pytest.raises(InputError, match="bg.h5: .*other.h5: head differs"):
        background.check(scoring_meta(h5), tmp_path / "other.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="junk.h5"):
        Background.load(tmp_path / "junk.h5")
    with pytest.raises(InputError, match="lacks scores NOPE"):
        Background.load(tmp_path / "bg.h5", ("NOPE",))
    _score_file(tmp_path / "empty.h5", [], [], [], [], np.zeros((0, 2)))
    with pytest.raises(InputError, match="holds no scored allele"):
        Background.load(tmp_path / "empty.h5")


def test_background_snps_are_seeded_sorted_and_not_n(tmp_path) -> None:
    seq = "N" * 100 + "ACGT" * 100 + "N" * 100
    (tmp_path / "g.fa").write_text(">chrA\n" + seq + "\n>chrB\n" + "C" * 300 + "\n")
    (tmp_path / "w.bed").write_text("chrA\t0\t300\ttrain\nchrA\t200\t600\ttrain\nchrB\t0\t300\ttest\n")
    a = sample_background(tmp_path / "g.fa", tmp_path / "w.bed", 50, seed=3)
    b = sample_background(tmp_path / "g.fa", tmp_path / "w.bed", 50, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 50 and not a.duplicated(["chrom", "pos"]).any()
    for row in a.itertuples():
        base = (seq if row.chrom == "chrA" else "C" * 300)[row.pos - 1]
        assert base == row.ref != "N" and row.alt != row.ref
    assert list(a["chrom"]) == sorted(a["chrom"]) and a.groupby("chrom")["pos"].apply(lambda p: p.is_monotonic_increasing).all()
    merged = merged_intervals(pd.DataFrame({"chrom": ["c", "c"], "start": [0, 50], "end": [100, 200]}))
    assert merged.values.tolist() == [["c", 0, 200]]
    with pytest.raises(InputError, match="cannot hold"):
        sample_background(tmp_path / "g.fa", tmp_path / "w.bed", 10_000, seed=3)
    (tmp_path / "bad.bed").write_text("chrA\tzero\t10\n")
    with pytest.raises(InputError, match="bad.bed:1"):
        sample_background(tmp_path / "g.fa", tmp_path / "bad.bed", 5, seed=3)
