"""predict: bigWigs read back with pyBigWig equal the untransformed predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyBigWig
import pytest
import torch

from enformer_lite.errors import InputError
from enformer_lite.training.config import TrainConfig
from enformer_lite.inference.checkpoint import load_checkpoint
from enformer_lite.data.regions import Region
from enformer_lite.inference.predict_tracks import PredictConfig, predict_tracks
from enformer_lite.training.train import train
from test_train_support import REAL_TINY_MODEL, TRACKS, TinyModel, write_h5

SIZES = {"chr1": 1190, "chr2": 1400, "chr3": 900, "chrUn": 50}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(4)
    fasta = root / "genome.fa"
    with open(fasta, "w") as handle:
        for name, size in SIZES.items():
            seq = "".join(rng.choice(list("ACGT"), size=size))
            handle.write(f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, size, 60)) + "\n")
    human = write_h5(root / "human.h5", "human", ["train", "valid", "test", "test", "train"], seed=6)
    cfg = TrainConfig.from_dict({"max_steps": 2, "batch_size": 2, "val_check_interval": 2, "progress_bar": False})
    out = train({"human": human}, root / "model", {"channels": 8}, cfg, builder=TinyModel.from_dict)
    # Put each CAGE track's soft-clip threshold at its median prediction, so both branches of the inverse run.
    model, _ = load_checkpoint(out / "best.ckpt", builder=TinyModel.from_dict)
    with h5py.File(human, "r") as f:
        x = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])[f["sequence"][:]]
    with torch.no_grad():
        pred = model(torch.from_numpy(x), head="human").numpy()
    clip_soft = [float(np.median(pred[..., t] / 0.5)) for t in (0, 1)]
    tracks = [{**t, "clip_soft": clip_soft[i] if t["clip_soft"] is not None else None} for i, t in enumerate(TRACKS)]
    with h5py.File(human, "a") as f:
        f.attrs["tracks"] = json.dumps(tracks)
    return {"fasta": fasta, "human": human, "ckpt": out / "best.ckpt", "root": root, "clip_soft": clip_soft}


def expected_bins(model: torch.nn.Module, sequence: str, chrom_size: int, start: int, end: int) -> np.ndarray:
    """Per-bin predictions, each from a window that holds the bin at its centre (N beyond the chromosome).

    The tiny model sees only a few bp around each bin, so any window containing the bin in its
    target bins gives the same value; this avoids re-using the tiling under test.
    """
    eye = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), np.float32)])
    out = []
    for bin_start in range(start, end, 16):
        window_start = bin_start - 64 - 3 * 16  # target bin 3 of 8
        codes = [("ACGT".index(sequence[p]) if 0 <= p < chrom_size else 4) for p in range(window_start, window_start + 256)]
        with torch.no_grad():
            out.append(model(torch.from_numpy(eye[codes][None]), head="human")[0, 3].numpy())
    return np.array(out)


def original_scale(values: np.ndarray, clip_soft: list[float]) -> np.ndarray:
    """Invert the tracks table of the test data by hand: CAGE (sum, soft clip, scale 0.5), DNase (mean, scale 2)."""
    out = values.astype(np.float64).copy()
    for t in (0, 1):
        x, c = out[:, t] / 0.5, clip_soft[t]
        x = np.where(x > c, c + (x - c) ** 2, x)
        out[:, t] = x / 16  # bin sum → per-base mean
    out[:, 2] = out[:, 2] / 2.0
    return out


def read_sequences(fasta: Path) -> dict[str, str]:
    seqs: dict[str, list[str]] = {}
    name = ""
    for line in fasta.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
            seqs[name] = []
        else:
            seqs[name].append(line)
    return {k: "".join(v) for k, v in seqs.items()}


def test_bigwig_equals_untransformed_predictions(setup: dict[str, Any]) -> None:
    regions = ("chr1:1000-1190", "chr1:805-1010", "chr3:0-40")  # overlapping, unaligned, at chromosome ends
    outdir = setup["root"] / "pred"
    paths = predict_tracks(setup["ckpt"], setup["human"], setup["fasta"], outdir,
                           PredictConfig(regions=regions, batch_size=1), builder=TinyModel.from_dict)
    assert [p.name for p in paths] == ["cage_plus.bw", "cage_minus.bw", "dnase.bw"]
    model, _ = load_checkpoint(setup["ckpt"], builder=TinyModel.from_dict)
    seqs = read_sequences(setup["fasta"])
    # merged and widened to 16 bp bins: chr1:800-1190 (last bin cut at the chromosome end), chr3:0-48
    chr1 = expected_bins(model, seqs["chr1"], 1190, 800, 1190)
    for t, c in enumerate(setup["clip_soft"]):
        assert (chr1[:, t] / 0.5 > c).any() and (chr1[:, t] / 0.5 < c).any()  # both sides of the soft clip
    expected = {
        "chr1": (800, 1190, original_scale(chr1, setup["clip_soft"])),
        "chr3": (0, 48, original_scale(expected_bins(model, seqs["chr3"], 900, 0, 48), setup["clip_soft"])),
    }
    for t, path in enumerate(paths):
        bw = pyBigWig.open(str(path))
        assert bw.chroms() == SIZES
        for chrom, (start, end, values) in expected.items():
            intervals = bw.intervals(chrom)
            starts = list(range(start, end, 16))
            assert [(s, e) for s, e, _ in intervals] == [(s, min(s + 16, end)) for s in starts]
            np.testing.assert_allclose([v for _, _, v in intervals], values[:, t], rtol=1e-5)
        assert bw.intervals("chr2") is None
        bw.close()
    assert (outdir / "regions.bed").read_text() == "chr1\t800\t1190\nchr3\t0\t48\n"


def test_default_regions_are_test_windows(setup: dict[str, Any]) -> None:
    outdir = setup["root"] / "default"
    predict_tracks(setup["ckpt"], setup["human"], setup["fasta"], outdir, PredictConfig(n_default_regions=1),
                   builder=TinyModel.from_dict)
    # first test window: row 2, chr3:512-768 → target bins chr3:576-704
    assert (outdir / "regions.bed").read_text() == "chr3\t576\t704\n"
    bw = pyBigWig.open(str(outdir / "dnase.bw"))
    assert len(bw.intervals("chr3")) == 8
    bw.close()


def test_bad_region_names_the_chromosome(setup: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="chrX"):
        predict_tracks(setup["ckpt"], setup["human"], setup["fasta"], setup["root"] / "bad",
                       PredictConfig(regions=("chrX:1-100",)), builder=TinyModel.from_dict)
    assert not (setup["root"] / "bad").exists()
    with pytest.raises(InputError, match="expected chrom:start-end"):
        Region.parse("chr1-100")


def test_cli_with_the_real_model(setup: dict[str, Any], tmp_path: Path) -> None:
    from enformer_lite.cli import main

    cfg = TrainConfig.from_dict({"max_steps": 1, "batch_size": 1, "val_check_interval": 1, "progress_bar": False})
    model_dir = train({"human": setup["human"]}, tmp_path / "model", REAL_TINY_MODEL, cfg)
    outdir = tmp_path / "bigwigs"
    status = main(["predict", "--checkpoint", str(model_dir / "best.ckpt"), "--data", str(setup["human"]),
                   "--fasta", str(setup["fasta"]), "--outdir", str(outdir), "--region", "chr2:100-420",
                   "--reverse-complement", "--params", '{"predict": {"batch_size": 1}}'])
    assert status == 0
    bw = pyBigWig.open(str(outdir / "dnase.bw"))
    values = [v for _, _, v in bw.intervals("chr2")]
    bw.close()
    assert len(values) == 21 and all(np.isfinite(values)) and min(values) >= 0  # bins 96..432 of 16 bp
