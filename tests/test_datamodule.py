"""The data module: lazy HDF5 reads, augmentation consistency, organism alternation, rank shares."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from enformer_lite.errors import InputError
from enformer_lite.training.config import AugmentConfig
from enformer_lite.training.data import EnformerDataModule
from enformer_lite.data.h5 import read_meta
from enformer_lite.training.dataset import WindowDataset
from enformer_lite.training.sampler import AlternatingBatchSampler
from test_train_support import TARGET_LENGTH, TRACKS, WINDOW_LENGTH, mouse_tracks, write_h5

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def letters(x: torch.Tensor) -> str:
    """One-hot (L, 4) → string, all-zero rows as N (independent of the package's decoder)."""
    out = []
    for row in x.numpy():
        out.append("N" if row.sum() == 0 else "ACGT"[int(row.argmax())])
    return "".join(out)


@pytest.fixture
def two_organisms(tmp_path: Path) -> dict[str, Path]:
    human = write_h5(tmp_path / "human.h5", "human", ["train"] * 5 + ["valid"] * 3 + ["test"] * 2, seed=1)
    mouse = write_h5(tmp_path / "mouse.h5", "mouse", ["train"] * 2 + ["valid"], tracks=mouse_tracks(), seed=2)
    return {"human": human, "mouse": mouse}


def file_row(path: Path, row: int) -> tuple[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        codes = f["sequence"][row]
        targets = f["targets"][row].astype(np.float32)
    return "".join("ACGTN"[c] for c in codes), targets


def test_reverse_complement_is_equivariant(two_organisms: dict[str, Path]) -> None:
    meta = read_meta(two_organisms["human"])
    # Only reverse complement (no shift): each read is either the original or its RC.
    dataset = WindowDataset(meta, [0, 3], "human", augment=AugmentConfig(reverse_complement=True, max_shift=0))
    seen_rc = seen_fwd = 0
    torch.manual_seed(0)
    for _ in range(20):
        item = dataset[1]
        seq, targets = file_row(two_organisms["human"], 3)
        rc_seq = "".join(COMPLEMENT[b] for b in reversed(seq))
        # Tracks: 0 = CAGE +, 1 = CAGE -, 2 = DNase; reverse strand swaps 0 and 1.
        rc_targets = targets[::-1][:, [1, 0, 2]]
        got = letters(item["x"])
        if got == seq:
            seen_fwd += 1
            np.testing.assert_array_equal(item["y"].numpy(), targets)
        else:
            assert got == rc_seq
            seen_rc += 1
            np.testing.assert_array_equal(item["y"].numpy(), rc_targets)
    assert seen_rc > 0 and seen_fwd > 0


def test_shift_pads_with_n(two_organisms: dict[str, Path]) -> None:
    meta = read_meta(two_organisms["human"])
    dataset = WindowDataset(meta, [2], "human", augment=AugmentConfig(reverse_complement=False, max_shift=3))
    seq, targets = file_row(two_organisms["human"], 2)
    shifts_seen = set()
    torch.manual_seed(1)
    for _ in range(60):
        item = dataset[0]
        got = letters(item["x"])
        matches = [s for s in range(-3, 4) if got == ("N" * s + seq[: WINDOW_LENGTH - s] if s >= 0 else seq[-s:] + "N" * -s)]
        assert matches, "read is not the stored sequence shifted by at most 3 bp with N padding"
        shifts_seen.update(matches)
        np.testing.assert_array_equal(item["y"].numpy(), targets)  # targets do not move with small shifts
    assert {-3, 3} <= shifts_seen


def test_eval_items_are_not_augmented(two_organisms: dict[str, Path]) -> None:
    dm = EnformerDataModule(two_organisms, batch_size=2)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    seq, targets = file_row(two_organisms["human"], 5)  # first valid window of human
    assert letters(batch["x"][0]) == seq
    np.testing.assert_array_equal(batch["y"][0].numpy(), targets)
    assert batch["x"].dtype == torch.float32 and batch["x"].shape == (2, WINDOW_LENGTH, 4)


def test_training_batches_alternate_organisms(two_organisms: dict[str, Path]) -> None:
    dm = EnformerDataModule(two_organisms, batch_size=2, augment=AugmentConfig(max_shift=3))
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    organisms = [b["organism"] for b in batches]
    # human has 5 train windows → 3 batches of 2; mouse (2 windows) is cycled to match.
    assert organisms == ["human", "mouse"] * 3
    for batch in batches:
        n_tracks = 3 if batch["organism"] == "human" else 2
        assert batch["y"].shape == (2, TARGET_LENGTH, n_tracks)
        assert batch["y"].dtype == torch.float32
    human_rows = torch.cat([b["index"] for b in batches if b["organism"] == "human"]).tolist()
    assert set(human_rows) == {0, 1, 2, 3, 4}


def test_ranks_get_disjoint_equal_shares() -> None:
    sizes = [7, 3]
    shares = [list(AlternatingBatchSampler(sizes, 2, shuffle=True, cycle=True, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 4  # ceil(7 / (2 * 2)) = 2 batches per organism per rank
    first_organism = [set(i for b in s[::2] for i in b) for s in shares]
    assert first_organism[0] | first_organism[1] == set(range(7))
    assert not first_organism[0] & first_organism[1]
    # evaluation: every example exactly once across ranks, no padding
    evals = [AlternatingBatchSampler(sizes, 2, shuffle=False, cycle=False, rank=r, world_size=2) for r in (0, 1)]
    seen = sorted(i for s in evals for b in s for i in b)
    assert seen == list(range(10))
    assert sum(len(s) for s in evals) == sum(len(list(iter(s))) for s in evals)


def test_dataset_pickles_without_file_handle(two_organisms: dict[str, Path]) -> None:
    meta = read_meta(two_organisms["mouse"])
    dataset = WindowDataset(meta, [0, 1], "mouse")
    dataset[0]  # opens the handle in this process
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._handle is None
    np.testing.assert_array_equal(clone[1]["x"].numpy(), dataset[1]["x"].numpy())


def test_bad_strand_pair_is_reported(tmp_path: Path) -> None:
    bad = [dict(t) for t in TRACKS]
    bad[0]["strand_pair"] = 2  # 0 → 2 but 2 → 2: not a pairing
    path = write_h5(tmp_path / "bad.h5", "human", ["train", "valid"], tracks=bad)
    with pytest.raises(InputError, match=r"bad\.h5.*strand_pair"):
        read_meta(path)


def test_geometry_mismatch_between_organisms(tmp_path: Path) -> None:
    human = write_h5(tmp_path / "human.h5", "human", ["train", "valid"])
    mouse = write_h5(tmp_path / "mouse.h5", "mouse", ["train", "valid"], tracks=mouse_tracks())
    with h5py.File(mouse, "a") as f:
        f.attrs["bin_size"] = 32
    with pytest.raises(InputError, match="mouse.h5: bin_size"):
        EnformerDataModule({"human": human, "mouse": mouse}, batch_size=1).setup("fit")


def test_missing_train_split(tmp_path: Path) -> None:
    human = write_h5(tmp_path / "human.h5", "human", ["valid", "test"])
    dm = EnformerDataModule({"human": human}, batch_size=1)
    dm.setup("fit")
    with pytest.raises(InputError, match="human.h5: no windows with split 'train'"):
        dm.train_dataloader()
