"""``score-variants`` / ``gather-variants`` end to end with a real (tiny) network from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import cyvcf2
import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from enformer_lite.cli import main
from enformer_lite.model import ModelConfig, build_model
from test_variants_support import BIN_SIZE, TARGET_LENGTH, TRACKS, WINDOW_LENGTH, random_genome, write_vcf

CHROMS = {"chr1": 4000, "chr2": 2500}


def save_checkpoint(path: Path) -> None:
    """A training checkpoint (Lightning layout) of a tiny network with 16-bp bins and 3 tracks."""
    cfg = ModelConfig.from_preset("tiny", num_conv_tower=3, target_length=TARGET_LENGTH, heads={"human": 3}, dropout=0.0)
    model = build_model(cfg)
    torch.save(
        {
            "hyper_parameters": {
                "model_config": cfg.to_dict(),
                "track_ids": {"human": [t.id for t in TRACKS]},
                "data_meta": {"human": {
                    "window_length": WINDOW_LENGTH, "bin_size": BIN_SIZE, "target_length": TARGET_LENGTH,
                    "tracks": [t.__dict__ for t in TRACKS], "fingerprint": "test",
                }},
            },
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "global_step": 0,
        },
        path,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    fasta, seq = random_genome(root, CHROMS, seed=21)
    records = []
    rng = np.random.default_rng(1)
    for chrom, n in (("1", 6), ("chr2", 4)):  # "1" exercises the chr1 alias
        text = seq["chr1" if chrom == "1" else chrom]
        for pos in sorted(rng.choice(np.arange(300, len(text) - 300), size=n, replace=False).tolist()):
            ref = text[pos - 1]
            alts = [b for b in "ACGT" if b != ref]
            records.append(f"{chrom}\t{pos}\tv{chrom}_{pos}\t{ref}\t{alts[0]}" + (f",{alts[1]}" if pos % 3 == 0 else ""))
    text = seq["chr2"]
    records.append(f"chr2\t2300\tdel\t{text[2299:2305]}\t{text[2299]}")
    records.append(f"chr2\t2310\tsv\t{text[2309]}\t<DEL>")
    records.append(f"chr2\t2320\tbad\t{'A' if text[2319] != 'A' else 'C'}\t{text[2319]}")
    records.append("chr7\t100\tnowhere\tA\tG")
    vcf = write_vcf(root / "calls.vcf", records, {"1": 4000, "chr2": 2500, "chr7": 1000}, bgzip=True)
    ckpt = root / "model.ckpt"
    save_checkpoint(ckpt)
    genes = root / "genes.bed"
    genes.write_text("".join(f"chr1\t{p}\t{p + 1}\tg{p}\t0\t{'+' if p % 2 else '-'}\n" for p in range(500, 3600, 400)))
    return {"root": root, "fasta": fasta, "vcf": vcf, "ckpt": ckpt, "genes": genes}


def _common(world: dict[str, Path]) -> list[str]:
    return ["--vcf", str(world["vcf"]), "--fasta", str(world["fasta"]), "--checkpoint", str(world["ckpt"]),
            "--head", "human", "--genes", str(world["genes"]), "--grid", "32", "--batch-size", "8",
            "--params", '{"variants": {"shifts": [0], "vcfs": {}, "n_chunks": 2}}']


@pytest.fixture(scope="module")
def outputs(world: dict[str, Path]) -> dict[str, Path]:
    out = world["root"] / "whole"
    assert main(["score-variants", *_common(world), "--out-prefix", str(out)]) == 0
    # The VCF has no index: chunks read regions through the index of a bgzipped copy (as the workflow does).
    indexed = world["root"] / "indexed" / "calls.vcf.gz"
    assert main(["score-variants", "--vcf", str(world["vcf"]), "--index-copy", str(indexed)]) == 0
    assert Path(f"{indexed}.tbi").is_file() and not Path(f"{world['vcf']}.tbi").exists()
    chunked = [str(indexed) if a == str(world["vcf"]) else a for a in _common(world)]
    parts = []
    for k in range(2):
        part = world["root"] / f"part{k}.h5"
        assert main(["score-variants", *chunked, "--chunk", str(k), "--n-chunks", "2", "--part", str(part)]) == 0
        parts.append(str(part))
    gathered = world["root"] / "gathered"
    assert main(["gather-variants", "--vcf", str(world["vcf"]), "--out-prefix", str(gathered), *parts[::-1]]) == 0
    return {"whole": out, "gathered": gathered}


def test_scattered_chunks_gather_to_the_single_run(outputs: dict[str, Path]) -> None:
    for suffix in (".tsv.gz", ".genes.tsv.gz", ".skipped.tsv"):
        whole = pd.read_csv(f"{outputs['whole']}{suffix}", sep="\t")
        gathered = pd.read_csv(f"{outputs['gathered']}{suffix}", sep="\t")
        pd.testing.assert_frame_equal(whole, gathered, rtol=1e-3, atol=1e-6)
    with h5py.File(f"{outputs['gathered']}.h5") as h5:
        assert h5["scores/SAD"].shape == (h5["alleles/record"].shape[0], 3)
        assert list(h5["alleles/record"][:]) == sorted(h5["alleles/record"][:])


def test_tables_hold_every_allele_once(outputs: dict[str, Path]) -> None:
    scores = pd.read_csv(f"{outputs['whole']}.tsv.gz", sep="\t")
    skipped = pd.read_csv(f"{outputs['whole']}.skipped.tsv", sep="\t")
    assert list(scores.columns[:5]) == ["chrom", "pos", "id", "ref", "alt"]
    assert list(scores.columns[5:]) == [f"{s}:{t.id}" for s in ("SAD", "LOG2R", "D2", "MAXD") for t in TRACKS]
    assert "del" in set(scores["id"])
    assert dict(zip(skipped["id"], skipped["reason"])) == {"sv": "symbolic_alt", "bad": "ref_mismatch", "nowhere": "unknown_chrom"}
    multi = len({i for i in scores["id"] if i != "del" and int(i.split("_")[1]) % 3 == 0})
    assert len(scores) == 10 + multi + 1
    assert (scores[[f"D2:{t.id}" for t in TRACKS]] >= 0).all().all()
    genes = pd.read_csv(f"{outputs['whole']}.genes.tsv.gz", sep="\t")
    assert set(genes["chrom"]) == {"chr1"}  # genes only on chr1 (the VCF calls it "1"; tables use FASTA names)
    assert [c for c in genes.columns if ":" in c] == ["delta:cage_plus", "delta:cage_minus", "log2fc:cage_plus", "log2fc:cage_minus"]


def test_annotated_vcf_parses_and_carries_the_scores(outputs: dict[str, Path], world: dict[str, Path]) -> None:
    vcf_path = Path(f"{outputs['gathered']}.vcf.gz")
    assert Path(f"{vcf_path}.tbi").is_file()
    scores = pd.read_csv(f"{outputs['gathered']}.tsv.gz", sep="\t")
    sad_columns = [f"SAD:{t.id}" for t in TRACKS]
    expected = {}
    for _, row in scores.iterrows():
        values = row[sad_columns].to_numpy(float)
        best = int(np.abs(values).argmax())
        expected[(row["id"], row["alt"])] = (values[best], TRACKS[best].id)
    reader = cyvcf2.VCF(str(vcf_path))
    assert {"EL_SAD", "EL_SAD_TRACK", "EL_STATUS"} <= {h["ID"] for h in reader.header_iter() if h["HeaderType"] == "INFO"}
    n_records = 0
    for variant in reader:
        n_records += 1
        status = variant.INFO.get("EL_STATUS").split(",")
        assert len(status) == max(1, len(variant.ALT))
        if variant.ID in ("sv", "bad", "nowhere"):
            assert status == [{"sv": "symbolic_alt", "bad": "ref_mismatch", "nowhere": "unknown_chrom"}[variant.ID]]
            assert variant.INFO.get("EL_SAD") is None
            continue
        sads = variant.INFO.get("EL_SAD")
        sads = sads if isinstance(sads, tuple) else (sads,)
        tracks = variant.INFO.get("EL_SAD_TRACK").split(",")
        for alt, sad, track, state in zip(variant.ALT, sads, tracks, status):
            value, best_track = expected[(variant.ID, alt)]
            assert state == "scored"
            assert sad == pytest.approx(value, rel=1e-4, abs=1e-6)
            assert track == best_track
    assert n_records == len(list(cyvcf2.VCF(str(world["vcf"]))))
    # The index answers region queries.
    assert len(list(cyvcf2.VCF(str(vcf_path))("chr2:2290-2330"))) == 3


def test_ref_mismatch_error_exits_with_a_clear_message(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = world["root"] / "strict"
    assert main(["score-variants", *_common(world), "--ref-mismatch", "error", "--out-prefix", str(out)]) == 2
    err = capsys.readouterr().err
    assert "calls.vcf.gz record" in err and "(chr2:2320 bad): REF" in err
    assert not Path(f"{out}.h5").exists() and not Path(f"{out}.tsv.gz").exists()


def test_unknown_head_is_an_input_error(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = [a if a != "human" else "mouse" for a in _common(world)]
    assert main(["score-variants", *args, "--out-prefix", str(world["root"] / "mouse")]) == 2
    assert "no head 'mouse'" in capsys.readouterr().err


def test_gather_against_a_scored_background_adds_quantiles(world: dict[str, Path], tmp_path: Path) -> None:
    """The workflow's calibration: SNPs sampled from the windows, scored with the same flags (``--part``), then
    ``gather-variants --background``; the Q columns are scipy's percentile ranks of the background's |SAD|,
    and a flipped allele's EL_Q_SAD is in the VCF's REF → ALT orientation."""
    from scipy.stats import percentileofscore

    windows = tmp_path / "windows.bed"
    windows.write_text("chr1\t0\t4000\ttrain\nchr2\t0\t2500\ttest\n")
    background_vcf, background = tmp_path / "background.vcf.gz", tmp_path / "background.h5"
    assert main(["background-variants", "--fasta", str(world["fasta"]), "--windows", str(windows), "--out",
                 str(background_vcf), "--n", "40", "--seed", "2"]) == 0
    flags = _common(world)[2:]  # everything but --vcf
    assert main(["score-variants", "--vcf", str(background_vcf), *flags, "--part", str(background)]) == 0
    part, out = tmp_path / "part.h5", tmp_path / "calibrated"
    assert main(["score-variants", *_common(world), "--ref-mismatch", "flip", "--part", str(part)]) == 0
    assert main(["gather-variants", "--vcf", str(world["vcf"]), "--out-prefix", str(out), "--background", str(background),
                 "--background-source", "40 sampled SNPs", str(part)]) == 0
    table = pd.read_csv(f"{out}.tsv.gz", sep="\t")
    with h5py.File(background) as h5:
        bg_sad = np.abs(h5["scores/SAD"][:])
    with h5py.File(f"{out}.h5") as h5:
        sad, flipped = h5["scores/SAD"][:], h5["alleles/flipped"][:].astype(bool)
        assert int(h5["quantiles"].attrs["background_size"]) == 40 == len(bg_sad)
        assert h5["quantiles"].attrs["background_source"] == "40 sampled SNPs"
    assert flipped.sum() == 1  # the "bad" record: its ALT is the FASTA base
    for t, track in enumerate(TRACKS):
        expected = [np.sign(s) * percentileofscore(bg_sad[:, t], abs(s), kind="mean") / 100 for s in sad[:, t]]
        np.testing.assert_allclose(table[f"Q_SAD:{track.id}"], expected, atol=1e-5)
    row = int(np.flatnonzero(flipped)[0])
    q = table.loc[row, [f"Q_SAD:{t.id}" for t in TRACKS]].to_numpy(float)
    bad = next(v for v in cyvcf2.VCF(f"{out}.vcf.gz") if v.ID == "bad")
    assert bad.INFO.get("EL_Q_SAD") == pytest.approx(-q[np.abs(q).argmax()], abs=1e-6)
    assert bad.INFO.get("EL_Q_SAD_TRACK") == TRACKS[int(np.abs(q).argmax())].id
