"""Gene windows, element placement, gene selection and the dinucleotide shuffle."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from enformer_lite.contributions.regions import (
    ElementIndex,
    bin_overlap_sum,
    chunk_rows,
    select_genes,
)
from enformer_lite.data.candidates import read_candidates_bed
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.contributions.shuffle import dinucleotide_shuffle
from enformer_lite.errors import InputError

GEOMETRY = WindowGeometry(window_length=1024, bin_size=16, target_length=32)


def test_window_is_centred_on_the_tss_bin():
    tss = 10_000
    start = GEOMETRY.window_around_bin(tss)
    assert start + GEOMETRY.window_length // 2 <= tss < start + GEOMETRY.window_length // 2 + GEOMETRY.bin_size
    assert (tss - start) // GEOMETRY.bin_size == GEOMETRY.centre_bin == 32
    np.testing.assert_array_equal(GEOMETRY.centre_bins(2), [30, 31, 32, 33, 34])
    with pytest.raises(InputError, match="tss_flank_bins"):
        GEOMETRY.centre_bins(17)


def test_elements_outside_the_window_are_not_scored():
    tss = 10_000
    start, end = GEOMETRY.window_around_bin(tss), GEOMETRY.window_around_bin(tss) + GEOMETRY.window_length
    frame = pd.DataFrame(
        [
            ("chr1", start, start + 50, "first_base"),  # inside, touching the left edge
            ("chr1", end - 50, end, "last_base"),  # inside, touching the right edge
            ("chr1", start - 10, start + 40, "sticks_out_left"),
            ("chr1", end - 40, end + 10, "sticks_out_right"),
            ("chr1", start - 100, start, "left_of_window"),
            ("chr1", end, end + 100, "right_of_window"),
            ("chr2", start + 100, start + 200, "other_chrom"),
            ("chr1", tss - 40, tss + 60, "promoter"),
        ],
        columns=["chrom", "start", "end", "element"],
    )
    gene = pd.Series({"chrom": "chr1", "tss": tss, "gene_id": "g", "strand": "-"})
    plan, partial = ElementIndex(frame).plan(gene, GEOMETRY)
    assert sorted(plan.elements["element"]) == ["first_base", "last_base", "promoter"]
    assert partial == 2
    row = plan.elements.set_index("element").loc["last_base"]
    assert (row["rel_start"], row["rel_end"]) == (GEOMETRY.window_length - 50, GEOMETRY.window_length)
    assert row["distance"] == abs((end - 50 + end) // 2 - tss)
    assert plan.elements.set_index("element").loc["promoter", "distance"] == 10


def test_read_candidates_bed_names_file_and_line(tmp_path):
    good = tmp_path / "c.bed"
    good.write_text("track name=x\nchr1\t10\t20\tA\nchr1\t30\t45\nchr2\t5\t9\t.\n")
    frame = read_candidates_bed(good)
    assert frame["element"].tolist() == ["A", "chr1:30-45", "chr2:5-9"]
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t10\t20\tA\nchr1\t40\t30\tB\n")
    with pytest.raises(InputError, match=r"bad.bed line 2: bad interval 40-30"):
        read_candidates_bed(bad)
    dup = tmp_path / "dup.bed"
    dup.write_text("chr1\t10\t20\tA\nchr1\t40\t50\tA\n")
    with pytest.raises(InputError, match="duplicate element id"):
        read_candidates_bed(dup)


def test_select_genes_filters_limits_and_chunks():
    genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(10)], "chrom": ["chr1"] * 6 + ["chr2"] * 4})
    assert select_genes(genes, chroms=("chr2",))["gene_id"].tolist() == ["g6", "g7", "g8", "g9"]
    assert select_genes(genes, max_genes=3)["gene_id"].tolist() == ["g0", "g4", "g9"]
    assert select_genes(genes, ids=("g3", "g1"))["gene_id"].tolist() == ["g1", "g3"]
    with pytest.raises(InputError, match="unknown gene"):
        select_genes(genes, ids=("nope",))
    chunks = [chunk_rows(genes, i, 3)["gene_id"].tolist() for i in range(3)]
    assert sum(chunks, []) == genes["gene_id"].tolist()
    assert [len(c) for c in chunks] == [3, 4, 3]
    assert sorted(len(chunk_rows(genes.iloc[:1], i, 3)) for i in range(3)) == [0, 0, 1]  # more chunks than genes


def test_bin_overlap_sum_weights_partial_bins():
    values = np.arange(8, dtype=float)
    assert bin_overlap_sum(values, 16, 32, 16) == 1.0
    assert bin_overlap_sum(values, 8, 40, 16) == pytest.approx(0.5 * 0 + 1 + 0.5 * 2)
    assert bin_overlap_sum(values, 20, 21, 16) == pytest.approx(1 / 16)


def _dinucleotides(codes: np.ndarray) -> Counter:
    return Counter(zip(codes[:-1].tolist(), codes[1:].tolist()))


@pytest.mark.parametrize("length", [3, 5, 40, 500])
def test_dinucleotide_shuffle_preserves_dinucleotide_counts(length):
    rng = np.random.default_rng(length)
    for _ in range(20):
        codes = rng.choice(5, size=length, p=[0.3, 0.2, 0.2, 0.25, 0.05]).astype(np.uint8)
        shuffled = dinucleotide_shuffle(codes, rng)
        assert _dinucleotides(shuffled) == _dinucleotides(codes)
        assert shuffled[0] == codes[0] and shuffled[-1] == codes[-1]


def test_dinucleotide_shuffle_is_seeded_and_actually_shuffles():
    codes = np.random.default_rng(0).integers(0, 4, size=300).astype(np.uint8)
    a = dinucleotide_shuffle(codes, np.random.default_rng(7))
    b = dinucleotide_shuffle(codes, np.random.default_rng(7))
    c = dinucleotide_shuffle(codes, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, codes) and not np.array_equal(a, c)
    # each of many draws keeps the counts; the first dinucleotide is not frozen
    firsts = {tuple(dinucleotide_shuffle(codes, np.random.default_rng(s))[:2]) for s in range(30)}
    assert len(firsts) > 1


def test_dinucleotide_shuffle_is_uniform_over_arrangements():
    # "ACAGA" (first A, last A): A->C, C->A, A->G, G->A; the Eulerian walks are ACAGA and AGACA
    codes = np.array([0, 1, 0, 2, 0], dtype=np.uint8)
    rng = np.random.default_rng(0)
    seen = Counter(tuple(dinucleotide_shuffle(codes, rng).tolist()) for _ in range(2000))
    assert set(seen) == {(0, 1, 0, 2, 0), (0, 2, 0, 1, 0)}
    assert abs(seen[(0, 1, 0, 2, 0)] - 1000) < 120

