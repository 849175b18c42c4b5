"""Calibrated variant outputs: ``gather-variants --background`` writes signed quantiles into the TSV,
HDF5 and VCF it already writes, checked against scipy's percentile ranks computed here by hand."""

from __future__ import annotations

import gzip
from pathlib import Path

import cyvcf2
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore

from enformer_lite.cli import main
from enformer_lite.errors import InputError
from enformer_lite.interpret.calibrate import Background
from enformer_lite.variants.gather import gather_parts
from enformer_lite.variants.outputs import output_paths
from enformer_lite.variants.scores import SCORE_NAMES
from enformer_lite.variants.store import ScoreWriter, SKIP_COLUMNS
from test_variants_support import TRACKS, write_vcf

ATTRS = {"head": "human", "window_length": 512, "bin_size": 16, "target_length": 16}
TRACK_IDS = [t.id for t in TRACKS]


def _part(path: Path, alleles: list[tuple], scores: np.ndarray, skips: list[tuple] = (), attrs: dict | None = None) -> Path:
    """A score file of alleles (record, alt_index, chrom, pos, ref, alt, flipped) with scores (N, 4, T)."""
    keys = ("record", "alt_index", "chrom", "pos", "ref", "alt", "flipped")
    columns = {k: [a[i] for a in alleles] for i, k in enumerate(keys)}
    columns.update(vcf_chrom=columns["chrom"], id=[f"v{a[0]}_{a[1]}" for a in alleles], window_start=[0] * len(alleles))
    skipped = {k: [] for k in SKIP_COLUMNS}
    for record, alt_index, chrom, pos, ref, alt in skips:
        for key, value in zip(SKIP_COLUMNS, (record, alt_index, chrom, pos, ".", ref, alt, "symbolic_alt", "")):
            skipped[key].append(value)
    with ScoreWriter(path, TRACKS, [], {**ATTRS, **(attrs or {})}) as writer:
        writer.add_alleles(columns, np.asarray(scores, np.float32))
        writer.add_skips(skipped)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two parts of one VCF (a flipped allele, a multi-ALT record, a skipped ALT, a record without ALT)
    and a background of 200 alleles whose |scores| have ties with the variants'."""
    root = tmp_path_factory.mktemp("quantiles")
    rng = np.random.default_rng(4)
    records = ["chr1\t10\t.\tA\tG,T", "chr1\t20\t.\tC\tT", "chr1\t30\t.\tG\tA,<DEL>", "chr1\t40\t.\tT\t.",
               "chr1\t50\t.\tA\tC", "chr1\t60\t.\tG\tC"]
    vcf = write_vcf(root / "calls.vcf", records, {"chr1": 1000}, bgzip=True)
    alleles = [(0, 0, "chr1", 10, "A", "G", False), (0, 1, "chr1", 10, "A", "T", False),
               (1, 0, "chr1", 20, "T", "C", True),  # the FASTA has T: scored T→C, the VCF says C→T
               (2, 0, "chr1", 30, "G", "A", False), (4, 0, "chr1", 50, "A", "C", False), (5, 0, "chr1", 60, "C", "G", True)]
    background = rng.normal(size=(200, 4, len(TRACKS))) * np.array([1.0, 3.0, 0.2])
    scores = rng.normal(size=(len(alleles), 4, len(TRACKS))) * np.array([1.0, 3.0, 0.2])
    scores[0, 0, 1] = -background[7, 0, 1]  # |score| ties a background value
    scores[3, 0, 2] = 50.0  # beyond every background value: +1
    scores[4, 0] = 0.0  # no effect: 0 on every track
    local = [(a[0] - 2, *a[1:]) for a in alleles[3:]]  # a part numbers records from its chunk's first (record 2)
    parts = [_part(root / "part0.h5", alleles[:3], scores[:3], [], {"chunk": 0, "n_chunks": 2, "n_records": 2}),
             _part(root / "part1.h5", local, scores[3:], [(0, 1, "chr1", 30, "G", "<DEL>")],
                   {"chunk": 1, "n_chunks": 2, "n_records": 4})]
    bg_alleles = [(i, 0, "chr1", 100 + i, "A", "C", False) for i in range(len(background))]
    bg = _part(root / "bg.h5", bg_alleles, background)
    plain, calibrated = root / "plain", root / "calibrated"
    assert main(["gather-variants", "--vcf", str(vcf), "--out-prefix", str(plain), *map(str, parts[::-1])]) == 0
    assert main(["gather-variants", "--vcf", str(vcf), "--out-prefix", str(calibrated), "--background", str(bg),
                 "--background-source", "200 test SNPs", "--quantile-scores", "SAD,MAXD", *map(str, parts[::-1])]) == 0
    return {"root": root, "vcf": vcf, "parts": parts, "bg": bg, "background": background, "plain": plain,
            "calibrated": calibrated}


def _expected(values: np.ndarray, background: np.ndarray) -> np.ndarray:
    """sign(s) · percentileofscore(|background|, |s|, kind='mean') / 100, track by track."""
    out = np.empty(values.shape)
    for i, t in np.ndindex(values.shape):
        bg = np.abs(background[:, t].astype(np.float32))  # the background file holds float32
        out[i, t] = np.sign(values[i, t]) * percentileofscore(bg, abs(float(values[i, t])), kind="mean") / 100
    return out


def test_quantile_columns_equal_percentile_ranks_by_hand(world: dict) -> None:
    table = pd.read_csv(output_paths(world["calibrated"])["tsv"], sep="\t")
    score_columns = [f"{s}:{t}" for s in SCORE_NAMES for t in TRACK_IDS]
    q_columns = [f"Q_{s}:{t}" for s in ("SAD", "MAXD") for t in TRACK_IDS]
    assert list(table.columns) == ["chrom", "pos", "id", "ref", "alt", *score_columns, *q_columns]
    with h5py.File(output_paths(world["calibrated"])["h5"]) as h5:
        for name, index in (("SAD", 0), ("MAXD", 3)):
            scores = h5[f"scores/{name}"][:]
            expected = _expected(scores, world["background"][:, index])
            got = table[[f"Q_{name}:{t}" for t in TRACK_IDS]].to_numpy(float)
            np.testing.assert_allclose(got, expected, atol=1e-5)
            np.testing.assert_allclose(h5[f"quantiles/{name}"][:], expected, atol=1e-6)
    sad_q = table[[f"Q_SAD:{t}" for t in TRACK_IDS]].to_numpy(float)
    assert sad_q[3, 2] == 1.0 and np.all(sad_q[4] == 0.0) and np.all(np.abs(sad_q) <= 1)
    assert sad_q[0, 1] == pytest.approx(-(np.sum(np.abs(world["background"][:, 0, 1]) < abs(world["background"][7, 0, 1]))
                                          + 0.5) / 200)  # the tie counts half
    # the score columns are those of the gather without background
    plain = pd.read_csv(output_paths(world["plain"])["tsv"], sep="\t")
    pd.testing.assert_frame_equal(plain, table[plain.columns])


def test_hdf5_records_background_size_source_and_file(world: dict) -> None:
    with h5py.File(output_paths(world["calibrated"])["h5"]) as h5:
        attrs = h5["quantiles"].attrs
        assert int(attrs["background_size"]) == 200 and attrs["background_source"] == "200 test SNPs"
        assert attrs["background_file"] == str(world["bg"])
        assert h5["quantiles/SAD"].shape == h5["scores/SAD"].shape == (6, len(TRACKS))
        assert h5["quantiles/SAD"].dtype == np.float32 and set(h5["quantiles"]) == {"SAD", "MAXD"}


def test_vcf_info_carries_the_largest_quantile_in_vcf_orientation(world: dict) -> None:
    paths = output_paths(world["calibrated"])
    table = pd.read_csv(paths["tsv"], sep="\t")
    with h5py.File(paths["h5"]) as h5:
        keys = list(zip(h5["alleles/record"][:].tolist(), h5["alleles/alt_index"][:].tolist()))
        flipped = h5["alleles/flipped"][:].astype(bool)
    reader = cyvcf2.VCF(str(paths["vcf"]))
    header = reader.raw_header
    assert "##EL_Q_BACKGROUND=200 alleles; source: 200 test SNPs; file: " in header
    infos = {h["ID"] for h in reader.header_iter() if h["HeaderType"] == "INFO"}
    assert {"EL_Q_SAD", "EL_Q_SAD_TRACK", "EL_Q_MAXD", "EL_Q_MAXD_TRACK"} <= infos
    seen = 0
    for index, variant in enumerate(reader):
        for name in ("SAD", "MAXD"):
            values = variant.INFO.get(f"EL_Q_{name}")
            if index == 3:  # ALT '.'
                assert values is None
                continue
            values = values if isinstance(values, tuple) else (values,)
            tracks = variant.INFO.get(f"EL_Q_{name}_TRACK").split(",")
            assert len(values) == len(variant.ALT)
            for k, (value, track) in enumerate(zip(values, tracks)):
                if (index, k) not in keys:  # the skipped <DEL>
                    assert value is None and track == "."
                    continue
                row = keys.index((index, k))
                q = table.loc[row, [f"Q_{name}:{t}" for t in TRACK_IDS]].to_numpy(float)
                oriented = -q if flipped[row] else q
                assert abs(value) == pytest.approx(np.abs(q).max(), abs=1e-6)
                assert value == pytest.approx(oriented[TRACK_IDS.index(track)], abs=1e-6)
                seen += 1
    assert seen == 2 * 6
    # the flipped allele's VCF value has the opposite sign of the table's (scored T→C, VCF C→T)
    record = list(cyvcf2.VCF(str(paths["vcf"])))[1]
    q = table.loc[2, [f"Q_SAD:{t}" for t in TRACK_IDS]].to_numpy(float)
    assert record.INFO.get("EL_Q_SAD") == pytest.approx(-q[np.abs(q).argmax()], abs=1e-6)


def test_without_background_no_quantiles(world: dict) -> None:
    paths = output_paths(world["plain"])
    with gzip.open(paths["tsv"], "rt") as handle:
        assert not [c for c in handle.readline().split("\t") if c.startswith("Q_")]
    with h5py.File(paths["h5"]) as h5:
        assert "quantiles" not in h5
    reader = cyvcf2.VCF(str(paths["vcf"]))
    assert "EL_Q" not in reader.raw_header
    assert all(v.INFO.get("EL_Q_SAD") is None for v in reader)


def test_mismatching_background_is_an_input_error_naming_both_files(world: dict, capsys: pytest.CaptureFixture[str]) -> None:
    root = world["root"]
    other = _part(root / "mouse_bg.h5", [(0, 0, "chr1", 5, "A", "C", False)], np.ones((1, 4, len(TRACKS))),
                  attrs={"head": "mouse"})
    with pytest.raises(InputError, match=r"mouse_bg\.h5: the background was not scored like .*part0\.h5: head differs"):
        gather_parts(world["parts"], root / "bad.h5", Background.load(other))
    assert not (root / "bad.h5").exists()
    wide = _part(root / "geometry_bg.h5", [(0, 0, "chr1", 5, "A", "C", False)], np.ones((1, 4, len(TRACKS))),
                 attrs={"window_length": 1024})
    out = root / "bad"
    assert main(["gather-variants", "--vcf", str(world["vcf"]), "--out-prefix", str(out), "--background", str(wide),
                 *map(str, world["parts"])]) == 2
    err = capsys.readouterr().err
    assert "geometry_bg.h5" in err and "part0.h5" in err and "window_length differs" in err
    assert not output_paths(out)["tsv"].exists()


def test_calibrate_variants_recalibrates_a_score_file_against_another_background(
    world: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """``calibrate-variants`` on the plain gathered file = ``gather-variants --background`` on the parts."""
    out = world["root"] / "recalibrated"
    assert main(["calibrate-variants", "--scores", str(output_paths(world["plain"])["h5"]), "--vcf", str(world["vcf"]),
                 "--out-prefix", str(out), "--background", str(world["bg"]), "--background-source", "200 test SNPs",
                 "--quantile-scores", "SAD,MAXD"]) == 0
    for key in ("tsv", "genes", "skipped"):
        pd.testing.assert_frame_equal(pd.read_csv(output_paths(out)[key], sep="\t"),
                                      pd.read_csv(output_paths(world["calibrated"])[key], sep="\t"))
    lines = [[str(v) for v in cyvcf2.VCF(str(output_paths(p)["vcf"]))] for p in (out, world["calibrated"])]
    assert lines[0] == lines[1]
    assert main(["calibrate-variants", "--scores", str(output_paths(out)["h5"]), "--vcf", str(world["vcf"]),
                 "--out-prefix", str(out), "--background", str(world["bg"])]) == 2
    assert "would overwrite" in capsys.readouterr().err


def test_explanations_carry_each_variants_largest_quantile(world: dict) -> None:
    from enformer_lite.interpret.explain import read_scored

    table = pd.read_csv(output_paths(world["calibrated"])["tsv"], sep="\t")
    explained = read_scored(output_paths(world["calibrated"])["h5"], top_genes=2)
    for name in ("SAD", "MAXD"):
        q = table[[f"Q_{name}:{t}" for t in TRACK_IDS]]
        best = q.abs().to_numpy().argmax(axis=1)
        np.testing.assert_allclose(explained[f"Q_{name}"], q.to_numpy()[np.arange(len(q)), best], atol=1e-6)
        assert explained[f"Q_{name}_track"].tolist() == [TRACK_IDS[i] for i in best]
    assert not [c for c in read_scored(output_paths(world["plain"])["h5"], top_genes=2).columns if c.startswith("Q_")]
