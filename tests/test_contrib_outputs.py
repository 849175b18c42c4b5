"""BEDPE, bigWig and table outputs, and the truth metrics against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from scipy.stats import mannwhitneyu

from enformer_lite.contributions.evaluate import (
    assign_distance_bins,
    binary_metrics,
    evaluate_pairs,
    match_truth,
    read_truth,
)
from enformer_lite.contributions.methods import TABLE_COLUMNS, add_ranks
from enformer_lite.contributions.outputs import read_scores, write_bedpe, write_track, write_tsv
from enformer_lite.errors import InputError


def _table() -> pd.DataFrame:
    rows = [
        # gene, element, chrom, start, end, tss, strand, distance, deletion
        ("gA", "e1", "chr2", 1_000, 1_400, 30_000, "+", 28_800, 0.5),
        ("gA", "e2", "chr2", 50_000, 50_300, 30_000, "+", 20_150, 2.0),
        ("gA", "e3", "chr2", 31_000, 31_500, 30_000, "+", 1_250, -1.0),
        ("gB", "e2", "chr2", 50_000, 50_300, 70_000, "-", 19_850, 0.1),
        ("gB", "e4", "chr1", 5_000, 5_200, 9_000, "-", 3_900, 3.0),
    ]
    frame = pd.DataFrame(rows, columns=["gene", "element", "chrom", "start", "end", "tss", "strand", "distance", "deletion"])
    frame["own_promoter"] = False
    for column in TABLE_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    return add_ranks(frame, "deletion")[TABLE_COLUMNS]


def test_ranks_are_within_gene():
    table = _table()
    assert table["rank"].tolist() == [2, 1, 3, 2, 1]
    assert table["rank_attention"].isna().all()


def test_bedpe_coordinates_come_from_elements_and_tss(tmp_path):
    table = _table()
    path = tmp_path / "links.bedpe"
    n = write_bedpe(path, table, "deletion", top=2)
    bedpe = pd.read_csv(path, sep="\t", header=None)
    assert n == len(bedpe) == 4  # e3 of gA is rank 3 (and negative); every other link is in the top 2
    by_name = {row[6]: row for row in bedpe.itertuples(index=False)}
    assert set(by_name) == {"gA:e1", "gA:e2", "gB:e2", "gB:e4"}
    for name, row in by_name.items():
        gene, element = name.split(":")
        src = table[(table["gene"] == gene) & (table["element"] == element)].iloc[0]
        assert tuple(row[:6]) == (src["chrom"], src["start"], src["end"], src["chrom"], src["tss"], src["tss"] + 1)
        assert row[7] == pytest.approx(src["deletion"])
        assert (row[8], row[9]) == (".", src["strand"])
    assert write_bedpe(tmp_path / "one.bedpe", table, "deletion", top=1) == 2
    # rows sorted by element start within a chromosome, chromosomes in order of appearance
    assert bedpe[0].tolist() == ["chr2", "chr2", "chr2", "chr1"]
    assert bedpe[1].tolist() == [1_000, 50_000, 50_000, 5_000]


def test_scores_table_round_trips(tmp_path):
    table = _table()
    write_tsv(tmp_path / "t.tsv", table)
    back = read_scores(tmp_path / "t.tsv")
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    (tmp_path / "bad.tsv").write_text("gene\telement\n")
    with pytest.raises(InputError, match="lacks column"):
        read_scores(tmp_path / "bad.tsv")


def test_track_bigwig_has_fasta_sizes_and_values(tmp_path):
    sizes = {"chr1": 1_000, "chr2": 500}
    values = np.linspace(-1, 1, 200).astype(np.float32)
    write_track(tmp_path / "g.bw", sizes, "chr2", 400, values)  # runs 100 bp past the end of chr2
    bw = pyBigWig.open(str(tmp_path / "g.bw"))
    try:
        assert bw.chroms() == sizes
        got = np.array(bw.values("chr2", 400, 500))
        np.testing.assert_allclose(got, values[:100], rtol=1e-6)
        assert bw.intervals("chr1") is None
    finally:
        bw.close()
    write_track(tmp_path / "left.bw", sizes, "chr1", -50, values)  # starts before the chromosome
    with pyBigWig.open(str(tmp_path / "left.bw")) as bw2:
        np.testing.assert_allclose(bw2.values("chr1", 0, 150), values[50:], rtol=1e-6)


def _independent_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores)
    hits = labels[order].astype(float)
    precision_at_k = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at_k * hits).sum() / hits.sum())


def test_binary_metrics_match_scipy_and_independent_ap():
    rng = np.random.default_rng(5)
    labels = rng.random(60) < 0.3
    scores = rng.normal(size=60) + 1.2 * labels
    n, n_pos, auroc, auprc = binary_metrics(scores, labels)
    u = mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert (n, n_pos) == (60, labels.sum())
    assert auroc == pytest.approx(u / (labels.sum() * (~labels).sum()), rel=1e-6)
    assert auprc == pytest.approx(_independent_ap(scores, labels), rel=1e-6)
    # ties: AUROC counts them as one half, as the Mann-Whitney U does
    tied = np.round(scores)
    u_tied = mannwhitneyu(tied[labels], tied[~labels]).statistic
    assert binary_metrics(tied, labels)[2] == pytest.approx(u_tied / (labels.sum() * (~labels).sum()), rel=1e-6)
    # NaN scores are left out; one class only gives NaN
    with_nan = scores.copy()
    with_nan[:5] = np.nan
    assert binary_metrics(with_nan, labels)[0] == 55
    assert np.isnan(binary_metrics(scores[~labels], labels[~labels])[2])


def test_evaluation_by_distance_bin_and_baselines():
    rng = np.random.default_rng(9)
    n = 90
    distance = rng.integers(500, 120_000, size=n)
    regulates = rng.random(n) < 0.35
    pairs = pd.DataFrame(
        {"distance": distance, "regulates": regulates, "deletion": rng.normal(size=n) + regulates}
        | {m: rng.normal(size=n) for m in ("grad_input", "grad_input_abs", "attention", "abc")}
    )
    pairs.loc[:9, "attention"] = np.nan
    result = evaluate_pairs({"human": pairs}).set_index(["method", "distance_bin"])
    assert set(result.index.get_level_values("distance_bin")) == {"all", "<10kb", "10-50kb", ">=50kb"}
    for label, mask in (("all", np.ones(n, bool)), ("<10kb", distance < 10_000),
                        ("10-50kb", (distance >= 10_000) & (distance < 50_000)), (">=50kb", distance >= 50_000)):
        s, y = pairs["deletion"].to_numpy()[mask], regulates[mask]
        row = result.loc[("deletion", label)]
        assert row["n_pairs"] == mask.sum() and row["n_positive"] == y.sum()
        assert row["auroc"] == pytest.approx(mannwhitneyu(s[y], s[~y]).statistic / (y.sum() * (~y).sum()))
        assert row["auprc"] == pytest.approx(_independent_ap(s, y))
        d = -distance[mask].astype(float)
        assert result.loc[("distance", label), "auroc"] == pytest.approx(mannwhitneyu(d[y], d[~y]).statistic / (y.sum() * (~y).sum()))
    assert result.loc[("attention", "all"), "n_pairs"] == n - 10
    assert list(assign_distance_bins([0, 9_999, 10_000, 49_999, 50_000], (10_000, 50_000))) == [
        "<10kb", "<10kb", "10-50kb", "10-50kb", ">=50kb"]


def test_truth_is_read_and_matched_by_gene_and_element(tmp_path):
    truth = tmp_path / "truth.tsv"
    truth.write_text("element\tgene\tregulates\ne1\tgA\tTrue\ne2\tgA\tFalse\ne9\tgA\tTrue\ne4\tgB\t1\n")
    frame = read_truth(truth)
    assert frame["regulates"].tolist() == [True, False, True, True]
    merged = match_truth(_table(), frame, "human")
    assert sorted(zip(merged["gene"], merged["element"], merged["regulates"])) == [
        ("gA", "e1", True), ("gA", "e2", False), ("gB", "e4", True)]
    bad = tmp_path / "bad.tsv"
    bad.write_text("element\tgene\tregulates\ne1\tgA\tmaybe\n")
    with pytest.raises(InputError, match="bad.tsv line 2: regulates"):
        read_truth(bad)


def test_own_promoter_is_not_a_link_unless_asked(tmp_path):
    table = _table()
    table.loc[(table["gene"] == "gA") & (table["element"] == "e2"), "own_promoter"] = True  # gA's best element
    n = write_bedpe(tmp_path / "links.bedpe", table, "deletion", top=2)
    names = set(pd.read_csv(tmp_path / "links.bedpe", sep="\t", header=None)[6])
    assert n == 3 and names == {"gA:e1", "gB:e2", "gB:e4"}  # gA keeps e1; e3 scores below 0
    assert write_bedpe(tmp_path / "all.bedpe", table, "deletion", top=2, promoters=True) == 4
