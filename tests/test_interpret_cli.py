"""``enformer-lite ism`` and ``enformer-lite motifs`` end to end on a tiny genome and model; the spliced
gradient of the attributions against autograd through the whole model."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pyBigWig
import pytest
import torch

from enformer_lite.cli import main
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.sequence import one_hot
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.interpret.attribution import full_gradient, spliced_gradient
from enformer_lite.model import ModelConfig, build_model

WINDOW, BIN, TARGET = 1024, 16, 32
TRACKS = [TrackSpec(0, "DNASE_a", "a.bw", assay="DNASE"), TrackSpec(1, "CAGE_a", "b.bw", assay="CAGE")]
SIZES = {"chr1": 6_000, "chr2": 3_000}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=24, num_transformer_layers=1, num_heads=2, key_size=8, num_conv_tower=3,
                      channel_divisor=4, target_length=TARGET, heads={"human": len(TRACKS)}, dropout=0.0)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("interpret")
    rng = np.random.default_rng(5)
    with open(root / "g.fa", "w") as fa:
        for chrom, size in SIZES.items():
            fa.write(f">{chrom}\n" + "".join(rng.choice(list("ACGT"), size=size)) + "\n")
    (root / "genes.bed").write_text("chr1\t700\t701\tg1\t0\t+\nchr2\t1500\t1501\tg2\t0\t-\n")
    (root / "candidates.bed").write_text("chr1\t100\t180\te1\nchr1\t900\t1000\te2\nchr2\t1200\t1260\te3\n")
    model = _model()
    data_meta = {"window_length": WINDOW, "bin_size": BIN, "target_length": TARGET,
                 "tracks": [dataclasses.asdict(t) for t in TRACKS], "fingerprint": "test"}
    torch.save({"hyper_parameters": {"model_config": model.config.to_dict(), "track_ids": {"human": [t.id for t in TRACKS]},
                                     "data_meta": {"human": data_meta}},
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "global_step": 0},
               root / "model.ckpt")
    return root


def test_ism_command_writes_h5_bigwig_and_logo(world, tmp_path) -> None:
    params = {"interpret": {"ism": {"n_genes": 2, "elements": ["e3"], "flank": 3, "batch_size": 5}}}
    code = main(["ism", "--checkpoint", str(world / "model.ckpt"), "--fasta", str(world / "g.fa"), "--head", "human",
                 "--genes", str(world / "genes.bed"), "--candidates", str(world / "candidates.bed"),
                 "--regions", "chr1:2000-2004", "--out-h5", str(tmp_path / "ism.h5"), "--out-bigwig", str(tmp_path / "ism.bw"),
                 "--out-logo", str(tmp_path / "ism.png"), "--threads", "1", "--params", json.dumps(params)])
    assert code == 0
    with h5py.File(tmp_path / "ism.h5") as h5:
        assert list(h5["regions/kind"].asstr()[:]) == ["tss", "tss", "element", "region"]
        assert h5["effect"].shape == (7 + 7 + 60 + 4, 4, len(TRACKS))
        effect, ref = h5["effect"][:], h5["positions/ref"][:]
        assert np.all(effect[np.arange(len(ref)), ref] == 0) and np.isfinite(effect).all()
        assert np.abs(effect).max() > 0
    with pyBigWig.open(str(tmp_path / "ism.bw")) as bw:
        assert np.isfinite(bw.values("chr1", 697, 704)).all()
    assert (tmp_path / "ism.png").stat().st_size > 0


def test_ism_command_names_the_bad_region(world, tmp_path, capsys) -> None:
    code = main(["ism", "--checkpoint", str(world / "model.ckpt"), "--fasta", str(world / "g.fa"), "--head", "human",
                 "--regions", "chr9:1-10", "--out-h5", str(tmp_path / "x.h5"), "--params", '{"interpret": {"ism": {"n_genes": 0}}}'])
    assert code == 2 and "chr9:1-10" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_motifs_command_without_patterns_still_writes_every_file(world, tmp_path) -> None:
    truth = tmp_path / "elements.tsv"
    truth.write_text("element\tchrom\tstart\tend\tkind\tsites\ne1\tchr1\t100\t180\tenhancer\tGATA1:120:+\n")
    params = {"interpret": {"motifs": {"seq_length": 64, "max_elements": 0, "promoters": 2}}}
    code = main(["motifs", "--checkpoint", str(world / "model.ckpt"), "--fasta", str(world / "g.fa"), "--head", "human",
                 "--candidates", str(world / "candidates.bed"), "--genes", str(world / "genes.bed"), "--truth", str(truth),
                 "--outdir", str(tmp_path / "m"), "--logo", str(tmp_path / "m.png"), "--params", json.dumps(params)])
    assert code == 0
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["sequences"] == 5 and summary["truth"]["planted_motif_types"] == 1
    for name in ("motifs.meme", "matches.tsv", "seqlets.bed", "sequences.tsv", "eval.tsv", "eval_motifs.tsv"):
        assert (tmp_path / "m" / name).is_file()


def test_spliced_gradient_equals_full_autograd() -> None:
    model = _model()
    geometry = WindowGeometry(WINDOW, BIN, TARGET)
    bins = geometry.centre_bins(1)
    codes = np.random.default_rng(4).integers(0, 4, (2, WINDOW)).astype(np.uint8)
    x = torch.from_numpy(one_hot(codes))
    tracks = torch.tensor([0, 1])
    for lo, hi in ((480, 544), (0, 40), (1000, 1024)):
        spliced = spliced_gradient(model, "human", x, lo, hi, bins, tracks)
        full = full_gradient(model, "human", x, lo, hi, bins, geometry.crop, tracks)
        np.testing.assert_allclose(spliced.numpy(), full.numpy(), rtol=1e-4, atol=1e-7)
