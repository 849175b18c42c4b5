"""``eval-variants``: matching predictions to the truth table and the correlations per category."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from enformer_lite.cli import main
from enformer_lite.variants.store import ScoreWriter
from test_variants_support import TRACKS

SCORE_WIDTH = len(TRACKS)


def _write_scores(path: Path, alleles: list[dict], genes: list[dict], deltas: np.ndarray) -> None:
    """A score file with the given alleles (all columns), variant–gene rows and CAGE deltas (M, 2)."""
    columns = {k: [a[k] for a in alleles] for k in alleles[0]}
    with ScoreWriter(path, TRACKS, [0, 1], {"head": "human"}) as writer:
        writer.add_alleles(columns, np.zeros((len(alleles), 4, SCORE_WIDTH), np.float32))
        gene_columns = {k: [g[k] for g in genes] for k in genes[0]}
        values = np.stack([deltas, np.zeros_like(deltas)], axis=1).astype(np.float32)
        writer.add_genes(gene_columns, values)


def _allele(record: int, pos: int, ref: str, alt: str, flipped: bool = False) -> dict:
    return {"record": record, "alt_index": 0, "chrom": "chr1", "vcf_chrom": "chr1", "pos": pos, "id": f"v{record}",
            "ref": ref, "alt": alt, "flipped": flipped, "window_start": 0}


def _gene(allele: int, gene: str, strand: str) -> dict:
    return {"allele": allele, "gene_id": gene, "strand": strand, "tss": 0, "distance": 0, "bin": 0}


@pytest.fixture
def case(tmp_path: Path) -> dict:
    rng = np.random.default_rng(4)
    n = 12
    alleles = [_allele(i, 1000 + 100 * i, "A", "G") for i in range(n)]
    alleles[3] = _allele(3, 1300, "G", "A", flipped=True)  # VCF says REF=A ALT=G; scored G→A
    genes, deltas, truth = [], [], []
    categories = ["promoter", "proximal", "distal"]
    for i in range(n):
        for gene, strand in (("gplus", "+"), ("gminus", "-")):
            true = {"cage_plus": rng.normal(), "cage_minus": rng.normal()}
            # Predicted deltas: a noisy copy of the truth, in the scored orientation.
            sign = -1.0 if i == 3 else 1.0
            pred = [sign * (true["cage_plus"] + 0.3 * rng.normal()), sign * (true["cage_minus"] + 0.3 * rng.normal())]
            genes.append(_gene(i, gene, strand))
            deltas.append(pred)
            truth.append({"variant": f"v{i}", "chrom": "chr1", "pos": 1000 + 100 * i, "ref": "A", "alt": "G",
                          "site": "enhancer", "gene": gene, "distance": 5, "category": categories[i % 3],
                          "cage_ref_cage_plus": 1.0, "cage_delta_cage_plus": true["cage_plus"],
                          "cage_ref_cage_minus": 1.0, "cage_delta_cage_minus": true["cage_minus"]})
    # A gene in reach but outside the target window (truth only) and a background row.
    truth.append({**truth[0], "gene": "gfar"})
    truth.append({**truth[1], "category": "background"})
    # A variant that was not scored at all.
    truth.append({**truth[0], "pos": 99999})
    scores = tmp_path / "scores.h5"
    _write_scores(scores, alleles, genes, np.array(deltas))
    truth_path = tmp_path / "variants.tsv"
    pd.DataFrame(truth).to_csv(truth_path, sep="\t", index=False)
    bed = tmp_path / "genes.bed"
    bed.write_text("chr1\t10\t11\tgplus\t0\t+\nchr1\t20\t21\tgminus\t0\t-\nchr1\t30\t31\tgfar\t0\t+\n")
    return {"scores": scores, "truth": truth_path, "genes": bed, "deltas": np.array(deltas), "truth_rows": truth}


def test_correlations_per_category_match_an_independent_computation(case: dict, tmp_path: Path) -> None:
    out = tmp_path / "eval.tsv"
    assert main(["eval-variants", "--case", "demo", str(case["scores"]), str(case["truth"]), str(case["genes"]),
                 "--out", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    assert set(table["name"]) == {"demo"}
    table = table.set_index(["category", "track"])
    # Independent pairing: gene "gplus" pairs with the + track, "gminus" with the - track.
    pairs: dict[str, list[tuple[float, float]]] = {c: [] for c in ("promoter", "proximal", "distal")}
    for row_index, row in enumerate(case["truth_rows"][:24]):
        i = row_index // 2
        column = 0 if row["gene"] == "gplus" else 1
        predicted = case["deltas"][row_index, column] * (-1.0 if i == 3 else 1.0)
        pairs[row["category"]].append((predicted, row[f"cage_delta_{'cage_plus' if column == 0 else 'cage_minus'}"]))
    pairs["all"] = [p for c in ("promoter", "proximal", "distal") for p in pairs[c]]
    for category, values in pairs.items():
        x, y = np.array(values).T
        row = table.loc[(category, "all")]
        assert row["n"] == len(values)
        assert row["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-4)
        assert row["spearman"] == pytest.approx(np.corrcoef(rankdata(x), rankdata(y))[0, 1], abs=1e-4)
    # n_truth counts the on-strand truth rows of scored alleles, including the gene outside the window.
    assert table.loc[("all", "all"), "n_truth"] == 24 + 1
    assert table.loc[("all", "cage_plus"), "n"] == 12 and table.loc[("all", "cage_minus"), "n"] == 12
    assert table.loc[("all", "all"), "spearman"] > 0.8


def test_a_table_without_cage_columns_is_rejected(case: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tpos\tref\talt\tgene\tcategory\nchr1\t1\tA\tG\tg\tpromoter\n")
    assert main(["eval-variants", "--case", "demo", str(case["scores"]), str(bad), str(case["genes"]),
                 "--out", str(tmp_path / "e.tsv")]) == 2
    assert "bad.tsv: not a variant truth table" in capsys.readouterr().err


def test_streamed_evaluation_equals_the_in_memory_one(case: dict) -> None:
    from enformer_lite.variants.evaluate import evaluate_variant_effects

    whole = evaluate_variant_effects(case["scores"], case["truth"], case["genes"])
    # 4 pairs in memory: one disk partition per row, correlations by external ranks
    streamed = evaluate_variant_effects(case["scores"], case["truth"], case["genes"], memory_rows=4)
    pd.testing.assert_frame_equal(whole, streamed, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("memory_rows", [3, 16, 1000])
def test_external_ranks_equal_scipy_with_ties(tmp_path: Path, memory_rows: int) -> None:
    from scipy import stats

    from enformer_lite.variants.correlate import PairStore, external_ranks

    rng = np.random.default_rng(memory_rows)
    values = np.round(rng.normal(size=500), 1)  # many ties
    blocks = lambda: (values[i : i + 37] for i in range(0, len(values), 37))  # noqa: E731
    ranks = np.fromfile(external_ranks(blocks, len(values), tmp_path / f"r{memory_rows}", memory_rows))
    np.testing.assert_array_equal(ranks, stats.rankdata(values))
    store = PairStore(tmp_path, memory_rows)
    other = values + rng.normal(size=500)
    store.add("a", values[:200], other[:200])
    store.add("b", values[200:], other[200:])
    pearson, spearman = store.correlations(["a", "b"])
    assert pearson == pytest.approx(stats.pearsonr(values, other).statistic, abs=1e-12)
    assert spearman == pytest.approx(stats.spearmanr(values, other).statistic, abs=1e-12)
    store.add("c", np.ones(20), other[:20])
    assert np.isnan(store.correlations(["c"])).all()  # a constant side
