"""Masked target bins (N gaps, past the chromosome end, blacklist) and blacklisted windows.

Every expectation is recomputed here from the FASTA text and the BED lines with plain loops;
a masked bin must change neither the loss nor its gradient nor the evaluation.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from conftest import TINY_SPEC, TinyGenome
from enformer_lite.cli import main
from enformer_lite.data.blacklist import read_blacklist
from enformer_lite.data.sequence import encode
from enformer_lite.data.target_mask import valid_bins
from enformer_lite.errors import InputError
from enformer_lite.training.losses import poisson_loss, poisson_multinomial_loss
from test_extract import geometry

SPEC = TINY_SPEC
CROP_BP = (SPEC.length // SPEC.bin_size - SPEC.target_length) // 2 * SPEC.bin_size


def _expected_mask(sequence: str, start: int, blacklist: list[tuple[int, int]] = ()) -> np.ndarray:
    """Mask of one window's target bins by hand: > half N (past the end counts as N) or touching a BED interval."""
    out = np.ones(SPEC.target_length, dtype=np.uint8)
    for b in range(SPEC.target_length):
        lo = start + CROP_BP + b * SPEC.bin_size
        hi = lo + SPEC.bin_size
        bases = [sequence[i] if i < len(sequence) else "N" for i in range(lo, hi)]
        n = sum(base.upper() == "N" for base in bases)
        touched = any(s < hi and e > lo for s, e in blacklist)
        out[b] = 0 if n > SPEC.bin_size / 2 or touched else 1
    return out


def _build(genome: TinyGenome, out: Path, *extra_windows: str, blacklist: Path | None = None) -> Path:
    """windows → extract → merge through the CLI, with an optional blacklist for extraction."""
    out.mkdir(parents=True, exist_ok=True)
    bed = out / "windows.bed"
    assert main(["windows", "--fasta", str(genome.fasta), "--valid", "chr2", "--test", "chr3", "--out", str(bed),
                 *extra_windows, *geometry()]) == 0
    parts = []
    chroms = sorted({line.split("\t")[0] for line in bed.read_text().splitlines()})
    for chrom in chroms:
        part = out / f"{chrom}.h5"
        flags = ["--blacklist", str(blacklist)] if blacklist else []
        assert main(["extract", "--fasta", str(genome.fasta), "--tracks", str(genome.tracks), "--windows", str(bed),
                     "--chrom", chrom, "--genome", "human", "--out", str(part), *flags, *geometry()]) == 0
        parts.append(str(part))
    data = out / "data.h5"
    assert main(["merge", "--fasta", str(genome.fasta), "--out", str(data), *parts]) == 0
    return data


def test_valid_bins_by_hand() -> None:
    bin_size = 8
    sequence = "ACGT" * 2 + "N" * 4 + "ACGT" + "N" * 5 + "ACG" + "N" * 8
    codes = encode(sequence)
    got = valid_bins(codes, "c", bin_size)
    # bin 1: 4 N of 8 (exactly half) counts; bin 2: 5 N masked; bin 3: all N masked
    np.testing.assert_array_equal(got, [True, True, False, False])


def test_blacklist_bins_equal_a_plain_loop(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lines = []
    for _ in range(40):
        start = int(rng.integers(0, 5000))
        lines.append(("chr1", start, start + int(rng.integers(1, 400))))
    bed = tmp_path / "blacklist.bed.gz"
    bed.write_bytes(gzip.compress("".join(f"{c}\t{s}\t{e}\tx\n" for c, s, e in lines).encode()))
    listed = read_blacklist(bed, ["1", "2"])  # FASTA without "chr": names are matched
    got = listed.bins("1", 3, 30, 128)
    expected = [any(s < (b + 1) * 128 and e > b * 128 for _, s, e in lines) for b in range(3, 33)]
    np.testing.assert_array_equal(got, expected)
    assert not listed.bins("2", 0, 10, 128).any()


def test_blacklist_unknown_chromosome_is_a_counted_skip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bed = tmp_path / "blacklist.bed"
    bed.write_text("chr1\t10\t20\nchrUn_KI270742v1\t0\t50\nchrUn_KI270742v1\t60\t70\n")
    with caplog.at_level(logging.WARNING):
        listed = read_blacklist(bed, ["chr1"])
    assert list(listed.intervals) == ["chr1"]
    assert "2 record(s)" in caplog.text and "chrUn_KI270742v1" in caplog.text and str(bed) in caplog.text


def test_blacklist_bad_line_names_file_and_line(tmp_path: Path) -> None:
    bed = tmp_path / "blacklist.bed"
    bed.write_text("chr1\t10\t20\nchr1 30 40\n")
    with pytest.raises(InputError, match=rf"{bed} line 2"):
        read_blacklist(bed, ["chr1"])


def test_extracted_mask_equals_the_fasta_and_blacklist_by_hand(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    blacklist = [(11_000, 11_050), (14_500, 14_900)]
    bed = tmp_path / "blacklist.bed"
    bed.write_text("".join(f"chr1\t{s}\t{e}\n" for s, e in blacklist) + "chr3\t100\t101\n")
    data = _build(tiny_genome, tmp_path / "out", blacklist=bed)
    with h5py.File(data) as h5:
        windows, mask = h5["windows"][:], h5["target_mask"][:]
    masked_somewhere = {"gap": False, "end": False, "blacklist": False}
    for row, window in zip(mask, windows):
        chrom, start = window["chrom"].decode(), int(window["start"])
        sequence = tiny_genome.sequences[chrom]
        spans = [(s, e) for s, e in blacklist] if chrom == "chr1" else ([(100, 101)] if chrom == "chr3" else [])
        expected = _expected_mask(sequence, start, spans)
        np.testing.assert_array_equal(row, expected, err_msg=f"{chrom}:{start}")
        masked_somewhere["gap"] |= chrom == "chr1" and not expected.all() and start < 8000
        masked_somewhere["end"] |= start + CROP_BP + SPEC.target_length * SPEC.bin_size > len(sequence) and not expected.all()
        masked_somewhere["blacklist"] |= chrom == "chr1" and start > 9000 and not expected.all()
    assert all(masked_somewhere.values()), masked_somewhere  # the test data reach every case


def test_drop_mode_leaves_out_windows_whose_targets_are_blacklisted(
    tiny_genome: TinyGenome, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bed = tmp_path / "blacklist.bed"
    bed.write_text("chr3\t5000\t5001\n")
    plain, dropped = tmp_path / "plain.bed", tmp_path / "dropped.bed"
    assert main(["windows", "--fasta", str(tiny_genome.fasta), "--out", str(plain), *geometry()]) == 0
    with caplog.at_level(logging.INFO):
        assert main(["windows", "--fasta", str(tiny_genome.fasta), "--out", str(dropped), "--blacklist", str(bed),
                     "--blacklist-mode", "drop", *geometry()]) == 0
    rows = [line.split("\t") for line in plain.read_text().splitlines()]
    touched = [r for r in rows if r[0] == "chr3" and int(r[1]) + CROP_BP <= 5000 < int(r[1]) + CROP_BP + 2048]
    assert touched  # windows whose target bins hold chr3:5000
    expected = [r for r in rows if r not in touched]
    assert [line.split("\t") for line in dropped.read_text().splitlines()] == expected
    assert f"{len(touched)} window(s) dropped because {bed}" in caplog.text
    # mask mode (the default) keeps every window
    masked = tmp_path / "masked.bed"
    assert main(["windows", "--fasta", str(tiny_genome.fasta), "--out", str(masked), "--blacklist", str(bed),
                 *geometry()]) == 0
    assert masked.read_text() == plain.read_text()


@pytest.mark.parametrize("loss", [poisson_loss, poisson_multinomial_loss])
def test_a_masked_bin_changes_neither_loss_nor_gradient(loss) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    pred = torch.tensor(rng.gamma(2.0, 1.0, size=(2, 6, 3)), requires_grad=True)
    target = torch.tensor(rng.gamma(2.0, 1.0, size=(2, 6, 3)))
    mask = torch.ones(2, 6)
    mask[0, 2] = mask[1, 5] = 0
    base = loss(pred, target, mask)
    base.backward()
    assert pred.grad[0, 2].abs().max() == 0 and pred.grad[1, 5].abs().max() == 0
    moved_pred, moved_target = pred.detach().clone(), target.clone()
    moved_pred[0, 2] *= 7.0
    moved_target[1, 5] += 100.0
    assert loss(moved_pred, moved_target, mask).item() == pytest.approx(base.item(), rel=1e-12)
    moved_target[0, 1] += 1.0  # an unmasked bin does change it
    assert loss(moved_pred, moved_target, mask).item() != pytest.approx(base.item(), rel=1e-6)
    # all-ones mask = no mask
    assert loss(pred, target, torch.ones(2, 6)).item() == pytest.approx(loss(pred, target).item(), rel=1e-12)


def test_masked_poisson_equals_the_formula_over_counted_bins() -> None:
    rng = np.random.default_rng(1)
    pred, target = rng.gamma(2.0, 1.0, size=(2, 5, 2)), rng.poisson(2.0, size=(2, 5, 2)).astype(float)
    mask = np.array([[1, 1, 0, 1, 1], [0, 1, 1, 1, 0]], dtype=float)
    keep = mask.astype(bool)
    expected = np.mean((pred - target * np.log(pred + 1e-8))[keep])
    got = poisson_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(mask)).item()
    assert got == pytest.approx(expected, rel=1e-10)


def test_a_masked_bin_changes_no_evaluation_score(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    """Evaluate twice: once as extracted, once with wild targets in masked bins; the tables must agree."""
    from enformer_lite.inference.evaluate import evaluate
    from enformer_lite.training.config import TrainConfig
    from enformer_lite.training.train import train
    from test_train_support import TinyModel

    data = _build(tiny_genome, tmp_path / "out")
    with h5py.File(data) as h5:
        split, mask = h5["windows"]["split"][:], h5["target_mask"][:]
    test_rows = np.flatnonzero(split == b"test")
    cfg = TrainConfig.from_dict({"max_steps": 1, "batch_size": 2, "val_check_interval": 1, "progress_bar": False})
    ckpt = train({"human": data}, tmp_path / "model", {"channels": 4}, cfg, builder=TinyModel.from_dict) / "best.ckpt"
    before = evaluate(ckpt, data, "human", builder=TinyModel.from_dict).tracks
    # chr3 (test) ends inside its last windows' target bins: those bins are masked
    assert (mask[test_rows] == 0).any()
    changed = tmp_path / "changed.h5"
    changed.write_bytes(data.read_bytes())
    with h5py.File(changed, "r+") as h5:
        targets = h5["targets"][:]
        targets[mask == 0] = 1000.0
        h5["targets"][...] = targets
    after = evaluate(ckpt, changed, "human", builder=TinyModel.from_dict).tracks
    assert before["pearson"].tolist() == after["pearson"].tolist()
    assert (before["n_positions"] == int(mask[test_rows].sum())).all()
    with h5py.File(changed, "r+") as h5:  # control: an unmasked test bin does move the score
        row, col = test_rows[0], int(np.flatnonzero(mask[test_rows[0]])[0])
        h5["targets"][row, col, :] = 1000.0
    control = evaluate(ckpt, changed, "human", builder=TinyModel.from_dict).tracks
    assert control["pearson"].tolist() != before["pearson"].tolist()
