"""A pretrained model as the start: the published heads as a checkpoint, and each fine-tuning mode.

The pretrained model is a small random-weight enformer-pytorch model saved by its own
``save_pretrained``; its outputs (and embeddings) are the independent reference. Data files are the
tiny 256-bp windows of test_train_support (16-bp bins: ``num_downsamples=4``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from enformer_lite.cli import main
from enformer_lite.errors import InputError
from enformer_lite.inference.evaluate import evaluate
from enformer_lite.inference.trained import open_model
from enformer_lite.model.checkpoint import load_torch_file
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train
from test_train_support import TARGET_LENGTH, WINDOW_LENGTH, write_h5

enformer_pytorch = pytest.importorskip("enformer_pytorch")

SPLITS = ["train"] * 6 + ["valid"] * 3 + ["test"] * 3
DESCRIPTIONS = ["CAGE:liver adult", "CAGE:K562", "DNASE:liver", "CHIP:CTCF K562"]
STEPS = {"batch_size": 2, "max_steps": 4, "val_check_interval": 4, "checkpoint_every_n_steps": 2,
         "warmup_steps": 1, "lr": 0.01, "progress_bar": False, "log_every_n_steps": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A save_pretrained directory, its human targets table and a data.h5 of other tracks."""
    root = tmp_path_factory.mktemp("pretrained")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        reference = enformer_pytorch.Enformer.from_hparams(
            dim=48, depth=2, heads=2, attn_dim_key=16, output_heads=dict(human=4, mouse=2),
            target_length=TARGET_LENGTH, num_downsamples=4, dim_divisible_by=8,
        )
    with torch.no_grad():
        for p in reference.parameters():  # also un-zeroes the zero-initialised attention outputs
            p.add_(0.1 * torch.randn_like(p))
    reference.eval().save_pretrained(root / "ep", safe_serialization=False)
    rows = ["index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    rows += [f"{i}\t0\tENCFF{i:03d}XYZ\t/x/{i}.w5\t32\t2\tmean\t{d}" for i, d in enumerate(DESCRIPTIONS)]
    (root / "targets_human.txt").write_text("\n".join(rows) + "\n")
    data = write_h5(root / "human.h5", "human", SPLITS, targets="planted")
    return {"root": root, "reference": reference, "data": data}


def model_params(world: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"pretrained": str(world["root"] / "ep"),
            "pretrained_tracks": {"human": str(world["root"] / "targets_human.txt")}, **extra}


def one_hot(n: int = 2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, WINDOW_LENGTH), generator=g), 4).float()


def test_published_heads_are_a_checkpoint_every_stage_opens(world: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "best.ckpt"
    params = json.dumps({"model": model_params(world, pretrained_heads={"hg38": "human"})})
    assert main(["use-pretrained", "--data", f"hg38={world['data']}", "--out", str(out), "--params", params]) == 0
    # the data has 3 tracks of its own; the published head keeps its 4, named by the targets table
    trained = open_model(out, "hg38", "cpu", world["data"])
    assert [t.id for t in trained.tracks] == [f"ENCFF{i:03d}XYZ" for i in range(4)]
    assert [t.assay for t in trained.tracks] == ["CAGE", "CAGE", "DNASE", "CHIP"]
    assert trained.tracks[0].description == "CAGE:liver adult"
    assert (trained.geometry.window_length, trained.geometry.target_length) == (WINDOW_LENGTH, TARGET_LENGTH)
    x = one_hot()
    with torch.no_grad():
        torch.testing.assert_close(trained.model(x, head="hg38"), world["reference"](x, head="human"),
                                   rtol=1e-4, atol=1e-5)
    assert load_torch_file(out)["hyper_parameters"]["data_meta"]["hg38"]["published"] is True


def test_bad_pretrained_settings_name_the_key(world: dict[str, Any], tmp_path: Path) -> None:
    from enformer_lite.data.h5 import read_meta
    from enformer_lite.inference.published import PretrainedSource, published_checkpoint

    short = tmp_path / "short.txt"
    short.write_text("\n".join((world["root"] / "targets_human.txt").read_text().splitlines()[:3]) + "\n")
    metas = {"human": read_meta(world["data"])}
    source, _ = PretrainedSource.from_model_params(model_params(world, pretrained_tracks={"human": str(short)}))
    with pytest.raises(InputError, match=r"pretrained_tracks.human: .*short.txt lists 2 tracks.*predicts 4"):
        published_checkpoint(source, metas)
    source, _ = PretrainedSource.from_model_params(model_params(world))
    with pytest.raises(InputError, match="pretrained_heads: .* none for genome 'hg38'"):
        published_checkpoint(source, {"hg38": metas["human"]})
    with pytest.raises(InputError, match="model.pretrained_tracks: needs model.pretrained"):
        PretrainedSource.from_model_params({"pretrained_tracks": {"human": "t.txt"}})
    with pytest.raises(InputError, match="train.finetune: 'lora' needs model.pretrained"):
        train({"human": world["data"]}, tmp_path / "x", {}, TrainConfig.from_dict({**STEPS, "finetune": "lora"}))
    with pytest.raises(InputError, match="--embeddings human=embeddings.h5"):
        train({"human": world["data"]}, tmp_path / "y", model_params(world),
              TrainConfig.from_dict({**STEPS, "finetune": "head"}))


@pytest.fixture(scope="module")
def embeddings(world: dict[str, Any]) -> Path:
    out = world["root"] / "embeddings.h5"
    params = json.dumps({"model": model_params(world)})
    assert main(["embed", "--data", str(world["data"]), "--out", str(out), "--params", params, "--device", "cpu"]) == 0
    return out


def test_cached_embeddings_are_the_reference_trunk_output(world: dict[str, Any], embeddings: Path) -> None:
    import h5py

    from enformer_lite.data.sequence import one_hot as encode

    with h5py.File(world["data"]) as data, h5py.File(embeddings) as cache:
        cached, rows = cache["cached"][()], cache["embeddings"][()]
        x = torch.from_numpy(encode(data["sequence"][0]))[None]
    assert cached.tolist() == [s in ("train", "valid") for s in SPLITS]
    with torch.no_grad():
        expected = world["reference"](x, return_only_embeddings=True)[0].numpy()
    np.testing.assert_allclose(rows[0].astype(np.float32), expected, rtol=2e-3, atol=2e-3)
    assert not rows[SPLITS.index("test")].any()


def finetuned(world: dict[str, Any], tmp_path: Path, mode: str, embeddings: Path | None = None,
              **extra: Any) -> tuple[Path, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Fine-tune for 4 steps; returns outdir, the published checkpoint's and the pretrained model's tensors."""
    from enformer_lite.model.pretrained import read_pretrained

    out = train({"human": world["data"]}, tmp_path / mode, model_params(world, **extra.pop("model", {})),
                TrainConfig.from_dict({**STEPS, "finetune": mode, **extra}),
                embeddings={"human": embeddings} if embeddings else None)
    state = {k[len("model."):]: v for k, v in load_torch_file(out / "best.ckpt")["state_dict"].items()}
    return out, state, read_pretrained(world["root"] / "ep", overrides={"target_length": TARGET_LENGTH}).state_dict


def trunk_keys(state: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in state if not k.startswith("heads.")]


def check_later_stages(out: Path, world: dict[str, Any], state: dict[str, torch.Tensor],
                       pretrained: dict[str, torch.Tensor]) -> None:
    """New head on the data's tracks, published head kept as it was, both usable; evaluate runs."""
    trained = open_model(out / "best.ckpt", "human", "cpu", world["data"])
    assert [t.id for t in trained.tracks] == ["cage_plus", "cage_minus", "dnase"]
    published = open_model(out / "best.ckpt", "published_human", "cpu")
    assert published.tracks[2].id == "ENCFF002XYZ"
    assert torch.equal(state["heads.published_human.weight"], pretrained["heads.human.weight"])
    table = evaluate(out / "best.ckpt", world["data"], "human").tracks
    assert table["track_id"].tolist() == ["cage_plus", "cage_minus", "dnase"]
    assert np.isfinite(table["pearson"]).all()


@pytest.mark.parametrize("mode", ["head", "linear"])
def test_frozen_trunk_modes_train_only_the_new_head(world: dict[str, Any], embeddings: Path, tmp_path: Path,
                                                    mode: str) -> None:
    out, state, pretrained = finetuned(world, tmp_path, mode, embeddings if mode == "head" else None)
    for key in trunk_keys(pretrained):  # weights and BatchNorm statistics alike
        assert torch.equal(state[key], pretrained[key]), key
    assert not torch.equal(state["heads.human.weight"], torch.zeros_like(state["heads.human.weight"]))
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["train/loss"].dropna().size == 4
    check_later_stages(out, world, state, pretrained)


def test_lora_trains_adapters_merged_into_a_plain_model(world: dict[str, Any], tmp_path: Path) -> None:
    out, state, pretrained = finetuned(world, tmp_path, "lora", lora={"rank": 2, "alpha": 4.0})
    assert not any("lora_" in k for k in state) and set(state) >= set(trunk_keys(pretrained))
    changed = {k for k in trunk_keys(pretrained) if not torch.equal(state[k], pretrained[k])}
    assert "transformer.0.attn.to_q.weight" in changed and "final.conv.weight" in changed
    # only LoRA targets move: the stem's k=15 conv, the tower's k=5 convs and every BatchNorm statistic stay
    assert not {k for k in changed if k.startswith("stem.conv") or ".norm." in k or ".conv.conv." in k}
    assert all(k.endswith("weight") for k in changed)
    check_later_stages(out, world, state, pretrained)


def test_full_trains_the_trunk_at_the_lower_rate(world: dict[str, Any], tmp_path: Path) -> None:
    out, state, pretrained = finetuned(world, tmp_path, "full", trunk_lr_ratio=0.25, keep_pretrained_heads=True)
    assert not torch.equal(state["stem.conv.weight"], pretrained["stem.conv.weight"])
    metrics = pd.read_csv(out / "metrics.csv")
    lr = metrics.dropna(subset=["lr-AdamW/lr"])
    np.testing.assert_allclose(lr["lr-AdamW/lr_trunk"], 0.25 * lr["lr-AdamW/lr"], rtol=1e-6)
    check_later_stages(out, world, state, pretrained)


def test_windows_overlapping_the_pretrained_regions_are_left_out(world: dict[str, Any], embeddings: Path,
                                                                 tmp_path: Path) -> None:
    # rows 6 (valid, chr1 1536-1792) and 9 (test, chr1 2304-2560) of the data; row 0 (train) stays in
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t0\t100\nchr1\t1700\t1750\n1\t2400\t2600\n")
    out, state, _ = finetuned(world, tmp_path, "head", embeddings, model={"pretrained_regions": str(bed)})
    overlap = pd.read_csv(out / "pretrained_overlap.tsv", sep="\t")
    assert overlap[["row", "split", "overlap_bp"]].values.tolist() == [[6, "valid", 50], [9, "test", 160]]
    hparams = load_torch_file(out / "best.ckpt")["hyper_parameters"]
    assert hparams["data_meta"]["human"]["excluded_rows"] == [6, 9]
    table = evaluate(out / "best.ckpt", world["data"], "human").tracks
    assert (table["n_positions"] == 2 * TARGET_LENGTH).all()  # two of the three test windows
