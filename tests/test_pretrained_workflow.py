"""The README's "Use a pretrained model" route, run as a user runs it on the ci world (one genome):
weights saved by enformer-pytorch's own ``save_pretrained`` (random, at the world's 196,608-bp
geometry: 896 bins of 128 bp) plus a published-format targets table, then `snakemake --cores 2
--configfile my.yaml` from a copy of the checkout.

* ``train.finetune`` unset (= none): no training and no evaluation; predict, variants,
  contributions and their figures run with the published head, and carry its track identifiers.
* ``train.finetune: head``: the trunk's embeddings are cached next to data.h5, new heads are trained
  on them and every later stage runs with the fine-tuned checkpoint (published head kept).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml

from test_slurm_cluster import copy_checkout

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = ["DNASE:liver", "DNASE:K562", "CAGE:liver adult", "CAGE:K562", "CHIP:CTCF K562", "ATAC:brain"]
IDS = [f"ENCFF{i:03d}ABC" for i in range(len(DESCRIPTIONS))]
enformer_pytorch = pytest.importorskip("enformer_pytorch")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The ci world (human only), the pretrained directory and its targets table."""
    base = tmp_path_factory.mktemp("pretrained_world")
    made = run([sys.executable, "-m", "enformer_lite.cli", "simulate", "--size", "ci", "--seed", "3",
                "--genomes", "human", "--outdir", str(base / "sim")], ROOT)
    assert made.returncode == 0, made.stderr[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        reference = enformer_pytorch.Enformer.from_hparams(
            dim=48, depth=2, heads=2, attn_dim_key=16, output_heads=dict(human=len(IDS), mouse=3),
            target_length=896, num_downsamples=7, dim_divisible_by=8,
        )
    reference.eval().save_pretrained(base / "enformer-small", safe_serialization=False)
    rows = ["index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    rows += [f"{i}\t0\t{t}\t/data/{t}.w5\t32\t2\tsum\t{d}" for i, (t, d) in enumerate(zip(IDS, DESCRIPTIONS))]
    (base / "targets_human.txt").write_text("\n".join(rows) + "\n")
    return {"base": base, "reference": reference}


def user_config(inputs: dict[str, Any], genome: str, **extra: Any) -> Path:
    base, sim = inputs["base"], inputs["base"] / "sim" / "human"
    config = {
        "genomes": {genome: {
            "fasta": str(base / "sim" / "human.fa"), "tracks": str(sim / "tracks.tsv"), "genes": str(sim / "genes.bed"),
            "candidates": str(sim / "candidates.bed"), "splits": {"valid": ["chr2"], "test": ["chr3"]},
        }},
        "windows": {"stride": 131072},
        "model": {"pretrained": str(base / "enformer-small"),
                  "pretrained_tracks": {"human": str(base / "targets_human.txt")}, **extra.pop("model", {})},
        "predict": {"n_default_regions": 1},
        "variants": {"vcfs": {"calls": {"path": str(sim / "variants.vcf.gz"), "genome": genome}},
                     "n_chunks": 1, "limit": 4, "regions": ["chr3"]},
        "contributions": {"max_genes": 1, "chunks": 1, "deletion_draws": 1},
        "plots": {"auto_loci": 1, "top_variants": 1, "n_contribution_genes": 1},
        "interpret": {"enabled": False},
        **extra,
    }
    path = base / f"{genome}.{config.get('train', {}).get('finetune', 'none')}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def finished_run(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkout = copy_checkout(tmp_path_factory.mktemp("checkout"))
    result = run(["snakemake", "--cores", "2", "--configfile", str(config)], checkout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return checkout


@pytest.fixture(scope="module")
def scored(inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(user_config(inputs, "hg38", model={"pretrained_heads": {"hg38": "human"}}),
                        tmp_path_factory)


def test_score_only_trains_and_evaluates_nothing(scored: Path) -> None:
    assert sorted(p.name for p in (scored / "results" / "model").iterdir()) == ["best.ckpt"]
    assert not (scored / "results" / "eval").exists()
    assert not (scored / "results" / "plots" / "accuracy.png").exists()
    assert (scored / "results" / "plots" / "variants" / "calls" / "strongest.png").is_file()
    assert (scored / "results" / "plots" / "contributions" / "hg38.png").is_file()


def test_score_only_checkpoint_is_the_pretrained_model(scored: Path, inputs: dict[str, Any]) -> None:
    from enformer_lite.inference.trained import open_model

    trained = open_model(scored / "results/model/best.ckpt", "hg38", "cpu", scored / "results/hg38/data.h5")
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 196_608), generator=torch.Generator().manual_seed(2)), 4)
    with torch.no_grad():
        torch.testing.assert_close(trained.model(x.float(), head="hg38"), inputs["reference"](x.float(), head="human"),
                                   rtol=1e-4, atol=1e-5)


def test_outputs_carry_the_published_track_identifiers(scored: Path) -> None:
    assert sorted(p.stem for p in (scored / "results/predict/hg38").glob("*.bw")) == sorted(IDS)
    table = pd.read_csv(scored / "results/variants/calls.tsv.gz", sep="\t")
    assert [c for c in table.columns if c.startswith("SAD:")] == [f"SAD:{t}" for t in IDS]
    info = [line for line in gzip.open(scored / "results/variants/calls.vcf.gz", "rt") if not line.startswith("#")]
    assert any(f"EL_SAD_TRACK={t}" in line for line in info for t in IDS)
    links = pd.read_csv(scored / "results/contributions/hg38.enhancer_gene.tsv", sep="\t")
    assert len(links)


@pytest.fixture(scope="module")
def finetuned(inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    train = {"finetune": "head", "batch_size": 2, "max_steps": 4, "val_check_interval": 4, "limit_val_batches": 2,
             "checkpoint_every_n_steps": 4, "warmup_steps": 1, "log_every_n_steps": 2, "lr": 0.01}
    return finished_run(user_config(inputs, "human", train=train), tmp_path_factory)


def test_head_finetuning_runs_every_later_stage(finetuned: Path, inputs: dict[str, Any]) -> None:
    from enformer_lite.model.checkpoint import load_torch_file

    assert (finetuned / "results/human/embeddings.h5").is_file()
    assert (finetuned / "results/model/pretrained_overlap.tsv").is_file()
    own = pd.read_csv(inputs["base"] / "sim/human/tracks.tsv", sep="\t")["id"].tolist()
    evaluated = pd.read_csv(finetuned / "results/eval/human.tsv", sep="\t")
    assert evaluated["track_id"].tolist() == own
    table = pd.read_csv(finetuned / "results/variants/calls.tsv.gz", sep="\t")
    assert [c for c in table.columns if c.startswith("SAD:")] == [f"SAD:{t}" for t in own]
    hparams = load_torch_file(finetuned / "results/model/best.ckpt")["hyper_parameters"]
    assert hparams["published_track_ids"] == {"published_human": IDS}
    assert hparams["finetune"]["mode"] == "head"
    for figure in ("training.png", "accuracy.png", "contributions/human.png", "variants/calls/scores.png"):
        assert (finetuned / "results/plots" / figure).is_file(), figure


@pytest.mark.parametrize("mode", ["linear", "lora", "full"])
def test_every_finetune_mode_runs_through_the_workflow(mode: str, finetuned: Path, inputs: dict[str, Any]) -> None:
    """Changing ``train.finetune`` in the same checkout retrains and re-evaluates; extraction stays as it was."""
    from enformer_lite.model.checkpoint import load_torch_file

    data = finetuned / "results/human/data.h5"
    extracted = data.stat().st_mtime_ns
    train = {"finetune": mode, "batch_size": 2, "max_steps": 2, "val_check_interval": 2, "limit_val_batches": 1,
             "checkpoint_every_n_steps": 2, "warmup_steps": 1, "log_every_n_steps": 1, "lr": 0.01}
    config = user_config(inputs, "human", train=train)
    result = run(["snakemake", "results/eval/human.tsv", "--cores", "2", "--configfile", str(config)], finetuned)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert data.stat().st_mtime_ns == extracted
    blob = load_torch_file(finetuned / "results/model/best.ckpt")
    assert blob["hyper_parameters"]["finetune"]["mode"] == mode
    assert not [k for k in blob["state_dict"] if "lora_" in k]  # adapters merged into plain weights
    own = pd.read_csv(inputs["base"] / "sim/human/tracks.tsv", sep="\t")["id"].tolist()
    assert pd.read_csv(finetuned / "results/eval/human.tsv", sep="\t")["track_id"].tolist() == own
