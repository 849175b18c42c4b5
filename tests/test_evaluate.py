"""evaluate: per-track and TSS Pearson against scipy on independently gathered arrays."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from enformer_lite.errors import InputError
from enformer_lite.training.config import TrainConfig
from enformer_lite.inference.evaluate import EvalConfig, evaluate
from enformer_lite.inference.checkpoint import load_checkpoint
from enformer_lite.training.train import train
from test_train_support import REAL_TINY_MODEL, TinyModel, mouse_tracks, write_h5

SPLITS = ["train", "valid", "test", "test", "test", "train"]
# Test windows (see write_h5): 2 = chr3:512-768, 3 = chr1:768-1024, 4 = chr2:1024-1280;
# target bins cover start+64 .. start+192 in 16 bp bins.
GENES = [
    ("chr3", 580, "+"), ("chr3", 650, "+"), ("chr1", 900, "+"), ("chr2", 1100, "+"), ("chr2", 1200, "+"),
    ("chr3", 600, "-"), ("chr1", 840, "-"), ("chr1", 950, "-"), ("chr2", 1150, "-"),
    ("chr3", 710, "+"),  # just past the target bins of window 2
    ("chr1", 100, "+"),  # in a training window
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    human = write_h5(root / "human.h5", "human", SPLITS, targets="random", seed=11)
    mouse = write_h5(root / "mouse.h5", "mouse", ["train", "valid", "test"], tracks=mouse_tracks(), seed=12)
    cfg = TrainConfig.from_dict({"max_steps": 2, "batch_size": 2, "val_check_interval": 2, "progress_bar": False})
    out = train({"human": human, "mouse": mouse}, root / "model", {"channels": 8}, cfg, builder=TinyModel.from_dict)
    genes = root / "genes.bed"
    genes.write_text("".join(f"{c}\t{t}\t{t + 1}\tg{i}\t0\t{s}\n" for i, (c, t, s) in enumerate(GENES)))
    return {"human": human, "mouse": mouse, "ckpt": out / "best.ckpt", "genes": genes}


def read_test_split(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot inputs (N, L, 4), targets (N, bins, T) and window starts of the test split, read directly."""
    with h5py.File(path, "r") as f:
        split = f["windows"]["split"][:]
        rows = np.flatnonzero(split == b"test")
        codes = f["sequence"][rows.tolist()]
        targets = f["targets"][rows.tolist()].astype(np.float32)
        starts = f["windows"]["start"][rows.tolist()]
    x = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])[codes]
    return x, targets, starts


def test_pearson_matches_scipy(trained: dict[str, Path]) -> None:
    result = evaluate(trained["ckpt"], trained["human"], genes=trained["genes"], builder=TinyModel.from_dict)
    table = result.tracks
    model, _ = load_checkpoint(trained["ckpt"], builder=TinyModel.from_dict)
    x, y, starts = read_test_split(trained["human"])
    with torch.no_grad():
        pred = model(torch.from_numpy(x), head="human").numpy()
    for t in range(3):
        r = stats.pearsonr(pred[..., t].ravel(), y[..., t].ravel()).statistic
        assert table.loc[t, "pearson"] == pytest.approx(r, abs=1e-4)
        assert table.loc[t, "n_positions"] == 3 * 8
    # TSS score: window and bin of each gene found by hand
    window_of = {"chr3": 0, "chr1": 1, "chr2": 2}
    for track, strand in ((0, "+"), (1, "-")):
        genes = [(c, tss) for c, tss, s in GENES[:9] if s == strand]
        p = [pred[window_of[c], (tss - starts[window_of[c]] - 64) // 16, track] for c, tss in genes]
        o = [y[window_of[c], (tss - starts[window_of[c]] - 64) // 16, track] for c, tss in genes]
        row = table.loc[track]
        per_gene = result.tss[result.tss["track_id"] == table.loc[track, "track_id"]]
        assert list(zip(per_gene["chrom"], per_gene["tss"])) == genes
        np.testing.assert_allclose(per_gene["predicted"], p, rtol=1e-6)
        # original scale: CAGE tracks are bin sums with soft clip 4 and scale 0.5
        x = np.asarray(o, dtype=np.float64) / 0.5
        np.testing.assert_allclose(per_gene["observed_counts"], np.where(x > 4, 4 + (x - 4) ** 2, x), rtol=1e-5)
        assert row["n_genes"] == len(genes)
        assert row["pearson_tss"] == pytest.approx(stats.pearsonr(p, o).statistic, abs=1e-5)
        assert row["pearson_tss_log1p"] == pytest.approx(stats.pearsonr(np.log1p(p), np.log1p(o)).statistic, abs=1e-5)
    assert table.loc[2, "n_genes"] == 0 and np.isnan(table.loc[2, "pearson_tss"])  # DNase: no TSS score


def test_test_time_averaging(trained: dict[str, Path]) -> None:
    cfg = EvalConfig(reverse_complement=True, shifts=(-2, 0, 1))
    table = evaluate(trained["ckpt"], trained["human"], cfg=cfg, builder=TinyModel.from_dict).tracks
    model, _ = load_checkpoint(trained["ckpt"], builder=TinyModel.from_dict)
    x, y, _ = read_test_split(trained["human"])
    passes = []
    with torch.no_grad():
        for shift in (-2, 0, 1):
            shifted = np.zeros_like(x)
            if shift > 0:
                shifted[:, shift:] = x[:, :-shift]
            elif shift < 0:
                shifted[:, :shift] = x[:, -shift:]
            else:
                shifted = x.copy()
            passes.append(model(torch.from_numpy(shifted), head="human").numpy())
            rc = np.ascontiguousarray(shifted[:, ::-1, ::-1])  # reverse, and A<->T, C<->G
            back = model(torch.from_numpy(rc), head="human").numpy()[:, ::-1][..., [1, 0, 2]]
            passes.append(back)
    pred = np.mean(passes, axis=0)
    for t in range(3):
        r = stats.pearsonr(pred[..., t].ravel(), y[..., t].ravel()).statistic
        assert table.loc[t, "pearson"] == pytest.approx(r, abs=1e-4)


def test_cli_train_then_evaluate_with_the_real_model(trained: dict[str, Path], tmp_path: Path) -> None:
    from enformer_lite.cli import main

    params = {"model": REAL_TINY_MODEL, "train": {"max_steps": 2, "batch_size": 2, "val_check_interval": 2,
                                                  "progress_bar": False, "trainer": {"accelerator": "cpu"}}}
    model_dir = tmp_path / "model"
    status = main(["train", "--data", f"human={trained['human']}", "--data", f"mouse={trained['mouse']}",
                   "--outdir", str(model_dir), "--params", json.dumps(params)])
    assert status == 0
    out = tmp_path / "eval" / "mouse.tsv"
    status = main(["evaluate", "--checkpoint", str(model_dir / "best.ckpt"), "--data", str(trained["mouse"]),
                   "--out", str(out), "--params", '{"evaluate": {"batch_size": 1}}'])
    assert status == 0
    table = pd.read_csv(out, sep="\t")
    assert table["track_id"].tolist() == ["m_dnase", "m_atac"]
    assert table["head"].tolist() == ["mouse", "mouse"]
    assert table["pearson"].between(-1, 1).all()


def test_wrong_head_is_reported(trained: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="mouse.h5: 2 tracks, but head 'human'"):
        evaluate(trained["ckpt"], trained["mouse"], head="human", builder=TinyModel.from_dict)


def test_specificity_is_the_deviation_from_the_group_mean(tmp_path: Path) -> None:
    """pearson_specific: per position, a DNase track minus the mean of the three DNase tracks,
    predicted against observed (scipy on arrays read directly); CAGE + and − are each alone in
    their (assay, strand) group, so they get none."""
    from test_train_support import TRACKS

    tracks = [*TRACKS, *({**TRACKS[2], "index": i, "id": f"dnase{i}", "strand_pair": i} for i in (3, 4))]
    data = write_h5(tmp_path / "human.h5", "human", SPLITS, tracks=tracks, targets="random", seed=5)
    cfg = TrainConfig.from_dict({"max_steps": 2, "batch_size": 2, "val_check_interval": 2, "progress_bar": False})
    out = train({"human": data}, tmp_path / "model", {"channels": 8}, cfg, builder=TinyModel.from_dict)
    table = evaluate(out / "best.ckpt", data, builder=TinyModel.from_dict).tracks
    model, _ = load_checkpoint(out / "best.ckpt", builder=TinyModel.from_dict)
    x, y, _ = read_test_split(data)
    with torch.no_grad():
        pred = model(torch.from_numpy(x), head="human").numpy().astype(np.float64)
    y = y.astype(np.float64)
    for t in (2, 3, 4):
        p = (pred[..., t] - pred[..., 2:5].mean(axis=-1)).ravel()
        o = (y[..., t] - y[..., 2:5].mean(axis=-1)).ravel()
        assert table.loc[t, "pearson_specific"] == pytest.approx(stats.pearsonr(p, o).statistic, abs=1e-4)
    assert table.loc[[0, 1], "pearson_specific"].isna().all()
    assert not np.isclose(table.loc[2, "pearson_specific"], table.loc[2, "pearson"])
