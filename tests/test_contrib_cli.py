"""``enformer-lite contributions score/gather/evaluate`` end to end on a tiny genome and model."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch

from enformer_lite.cli import main
from enformer_lite.contributions.outputs import read_scores
from enformer_lite.model import ModelConfig, build_model
from enformer_lite.data.tracks import TrackSpec

WINDOW, BIN, TARGET = 1024, 16, 32
TRACKS = [
    TrackSpec(0, "DNASE_a", "a.bw", assay="DNASE"),
    TrackSpec(1, "CAGE_a", "b.bw", assay="CAGE"),
]
SIZES = {"chr1": 6_000, "chr2": 3_000}
GENES = [("chr1", 700, "g1", "+"), ("chr1", 2_500, "g2", "-"), ("chr1", 5_800, "g3", "+"), ("chr2", 1_500, "g4", "+")]
ELEMENTS = [
    ("chr1", 100, 180, "e1"), ("chr1", 900, 1_000, "e2"), ("chr1", 2_100, 2_200, "e3"), ("chr1", 2_950, 3_100, "e4"),
    ("chr1", 5_300, 5_420, "e5"), ("chr2", 1_200, 1_260, "e6"), ("chr2", 2_500, 2_600, "e7"), ("chr1", 2_000, 2_060, "e8"),
    ("chr1", 5_900, 5_990, "e9"), ("chr2", 1_700, 1_800, "e10"), ("chr1", 1_150, 1_250, "e11"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("contrib")
    rng = np.random.default_rng(11)
    with open(root / "g.fa", "w") as fa:
        for chrom, size in SIZES.items():
            fa.write(f">{chrom}\n" + "".join(rng.choice(list("ACGT"), size=size)) + "\n")
    (root / "genes.bed").write_text("".join(f"{c}\t{t}\t{t + 1}\t{g}\t0\t{s}\n" for c, t, g, s in GENES))
    (root / "candidates.bed").write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n in ELEMENTS))
    torch.manual_seed(0)
    cfg = ModelConfig(channels=24, num_transformer_layers=1, num_heads=2, key_size=8, num_conv_tower=3,
                      channel_divisor=4, target_length=TARGET, heads={"human": len(TRACKS)}, dropout=0.0)
    model = build_model(cfg)
    with torch.no_grad():  # move away from the initialisation, where the output ignores the input
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    data_meta = {"window_length": WINDOW, "bin_size": BIN, "target_length": TARGET,
                 "tracks": [dataclasses.asdict(t) for t in TRACKS], "fingerprint": "test"}
    torch.save(
        {
            "hyper_parameters": {"model_config": cfg.to_dict(), "track_ids": {"human": [t.id for t in TRACKS]},
                                 "data_meta": {"human": data_meta}},
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "global_step": 0,
        },
        root / "model.ckpt",
    )
    return root


def _score(world, outdir, *extra):
    return main(["contributions", "score", "--checkpoint", str(world / "model.ckpt"), "--fasta", str(world / "g.fa"),
                 "--genes", str(world / "genes.bed"), "--candidates", str(world / "candidates.bed"), "--head", "human",
                 "--outdir", str(outdir), "--threads", "1",
                 "--params", json.dumps({"contributions": {"deletion_draws": 2, "batch_size": 3, "bedpe_top": 2,
                                                               "promoter_bp": 100}}), *extra])


def _expected_pairs():
    pairs = set()
    for chrom, tss, gene, _ in GENES:
        start = tss - (WINDOW // BIN // 2 * BIN + BIN // 2)
        for c, s, e, name in ELEMENTS:
            if c == chrom and s >= start and e <= start + WINDOW:
                pairs.add((gene, name))
    return pairs


def test_score_gather_evaluate(world, tmp_path):
    for chunk in range(2):
        assert _score(world, tmp_path / f"chunk{chunk}", "--chunk", str(chunk), "--n-chunks", "2") == 0
    assert _score(world, tmp_path / "whole") == 0
    params = json.dumps({"contributions": {"bedpe_top": 2, "rank_by": "grad_input_abs"}})
    out = tmp_path / "out"
    assert main(["contributions", "gather", str(tmp_path / "chunk0"), str(tmp_path / "chunk1"), "--out-tsv",
                 str(out / "human.tsv"), "--out-bedpe", str(out / "human.bedpe"), "--out-tracks", str(out / "tracks"),
                 "--params", params]) == 0
    table = read_scores(out / "human.tsv")
    assert set(zip(table["gene"], table["element"])) == _expected_pairs()
    # chunking changes nothing: every pair has its own shuffle stream
    whole = read_scores(tmp_path / "whole" / "scores.tsv")
    columns = [c for c in table.columns if not c.startswith("rank")]
    pd.testing.assert_frame_equal(table[columns], whole[columns], atol=1e-5)  # float32 batches differ in rounding
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["genes"] == 4 and summary["spliced"] is True
    for column in ("grad_input", "grad_input_abs", "deletion", "attention", "accessibility", "abc"):
        assert table[column].notna().all(), column

    # per-gene bigWig: FASTA sizes in the header, gradient x input summing to the table's element scores
    for gene in table["gene"].unique():
        with pyBigWig.open(str(out / "tracks" / f"{gene}.bw")) as bw:
            assert bw.chroms() == SIZES
            for row in table[table["gene"] == gene].itertuples():
                values = np.nan_to_num(np.array(bw.values(row.chrom, row.start, row.end)))
                assert values.sum() == pytest.approx(row.grad_input, rel=1e-3, abs=1e-6)

    bedpe = pd.read_csv(out / "human.bedpe", sep="\t", header=None)
    ranks = table.groupby("gene")["grad_input_abs"].rank(ascending=False, method="min")
    assert (table["rank"] == ranks).all()
    # the gene's own promoter (element overlapping TSS ± 100 bp) is marked and is not a link
    tss = table["tss"]
    assert table["own_promoter"].tolist() == ((table["start"] <= tss + 100) & (table["end"] > tss - 100)).tolist()
    assert table["own_promoter"].any() and ("g3", "e9") in set(zip(table["gene"], table["element"]))
    links = table[~table["own_promoter"] & (table["grad_input_abs"] > 0)]
    top = pd.concat([group.nsmallest(2, "rank") for _, group in links.groupby("gene")])
    assert sorted(bedpe[6]) == sorted(top["gene"] + ":" + top["element"])
    assert not set(bedpe[6]) & set(table[table["own_promoter"]]["gene"] + ":" + table[table["own_promoter"]]["element"])

    truth = tmp_path / "truth.tsv"
    labels = {pair: i % 2 == 0 for i, pair in enumerate(sorted(_expected_pairs()))}
    truth.write_text("gene\telement\tregulates\n" + "".join(f"{g}\t{e}\t{v}\n" for (g, e), v in labels.items()))
    assert main(["contributions", "evaluate", "--scores", f"human={out / 'human.tsv'}", "--truth", f"human={truth}",
                 "--out", str(out / "eval.tsv")]) == 0
    result = pd.read_csv(out / "eval.tsv", sep="\t")
    assert set(result["method"]) == {"deletion", "grad_input_abs", "grad_input", "attention", "abc", "distance"}
    overall = result[(result["method"] == "deletion") & (result["distance_bin"] == "all")].iloc[0]
    assert overall["n_pairs"] == len(labels) and overall["n_positive"] == sum(labels.values())


def test_selection_flags_and_bad_input(world, tmp_path, capsys):
    assert _score(world, tmp_path / "sel", "--genes-list", "g2", "g4", "--methods", "grad_input") == 0
    table = read_scores(tmp_path / "sel" / "scores.tsv")
    assert set(table["gene"]) == {"g2", "g4"}
    assert table["deletion"].isna().all() and table["grad_input"].notna().all()
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t10\t20\tx\nchr1\tten\t30\ty\n")
    code = main(["contributions", "score", "--checkpoint", str(world / "model.ckpt"), "--fasta", str(world / "g.fa"),
                 "--genes", str(world / "genes.bed"), "--candidates", str(bad), "--head", "human",
                 "--outdir", str(tmp_path / "never")])
    assert code == 2
    assert "bad.bed line 2" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    code = main(["contributions", "score", "--checkpoint", str(world / "model.ckpt"), "--fasta", str(world / "g.fa"),
                 "--genes", str(world / "genes.bed"), "--candidates", str(world / "candidates.bed"), "--head", "mouse",
                 "--outdir", str(tmp_path / "never")])
    assert code == 2
    assert "no head 'mouse'" in capsys.readouterr().err
