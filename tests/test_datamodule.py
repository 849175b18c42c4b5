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
    dataset = WindowDataset(meta, [0, 3], "human")
    seq, targets = file_row(two_organisms["human"], 3)
    forward, reverse = dataset[(1, 0, False)], dataset[(1, 0, True)]
    assert letters(forward["x"]) == seq
    np.testing.assert_array_equal(forward["y"].numpy(), targets)
    assert letters(reverse["x"]) == "".join(COMPLEMENT[b] for b in reversed(seq))
    # Tracks: 0 = CAGE +, 1 = CAGE -, 2 = DNase; reverse strand swaps 0 and 1.
    np.testing.assert_array_equal(reverse["y"].numpy(), targets[::-1][:, [1, 0, 2]])
    assert letters(dataset[1]["x"]) == seq  # a plain index is the stored row


def test_shift_pads_with_n(two_organisms: dict[str, Path]) -> None:
    meta = read_meta(two_organisms["human"])
    dataset = WindowDataset(meta, [2], "human")
    seq, targets = file_row(two_organisms["human"], 2)
    for s in range(-3, 4):
        item = dataset[(0, s, False)]
        expected = "N" * s + seq[: WINDOW_LENGTH - s] if s >= 0 else seq[-s:] + "N" * -s
        assert letters(item["x"]) == expected
        np.testing.assert_array_equal(item["y"].numpy(), targets)  # targets do not move with small shifts


def test_sampler_draws_every_shift_and_both_strands() -> None:
    sampler = AlternatingBatchSampler([7, 3], 2, shuffle=True, cycle=True, seed=4, augment=AugmentConfig(max_shift=3),
                                      length=200)
    batches = list(sampler)
    keys = [key for batch in batches for key in batch]
    assert {shift for _, shift, _ in keys} == set(range(-3, 4))
    assert {reverse for _, _, reverse in keys} == {False, True}
    plain = AlternatingBatchSampler([7, 3], 2, shuffle=True, cycle=True, seed=4, length=200)
    assert list(plain) == [[index for index, _, _ in batch] for batch in batches]  # same order, with views
    off = AlternatingBatchSampler([7, 3], 2, shuffle=True, cycle=True, augment=AugmentConfig(False, 0))
    assert all(isinstance(i, int) for batch in off for i in batch)


def test_sampler_resumes_mid_epoch_and_across_epochs() -> None:
    def make() -> AlternatingBatchSampler:
        return AlternatingBatchSampler([5, 2], 2, shuffle=True, cycle=True, seed=9, augment=AugmentConfig(), length=15)

    whole = list(make())  # 15 batches: 2.5 data epochs of 6 batches
    assert len(whole) == 15 and whole[:6] != whole[6:12]  # each data epoch draws afresh
    for done in (0, 4, 6, 11, 14):
        resumed = make()
        resumed.skip_to(done)
        assert list(resumed) == whole[done:]
    # without a length an iteration is one data epoch, and the next one continues the sequence
    epochs = AlternatingBatchSampler([5, 2], 2, shuffle=True, cycle=True, seed=9, augment=AugmentConfig())
    assert list(epochs) + list(epochs) == whole[:12]
    # the data do not depend on the number of ranks: two ranks share each epoch's draws
    two = [AlternatingBatchSampler([8, 4], 2, shuffle=True, cycle=True, seed=1, augment=AugmentConfig(), rank=r,
                                   world_size=2) for r in (0, 1)]
    one = AlternatingBatchSampler([8, 4], 4, shuffle=True, cycle=True, seed=1, augment=AugmentConfig())
    for b0, b1, b in zip(*two, one):
        assert sorted(b0 + b1) == sorted(b)


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


def test_validation_sample_is_fixed_and_spread_over_the_split() -> None:
    from enformer_lite.training.data import evenly_spaced

    rows = np.arange(100, 200)  # e.g. chr8 rows 100-149, chr9 rows 150-199
    sample = evenly_spaced(rows, 4, batch_size=2, n_organisms=2)  # 4 batches over 2 organisms: 4 rows each
    assert sample.tolist() == [100, 133, 166, 199]
    assert evenly_spaced(rows, 0.1, 2, 1).tolist() == np.unique(np.linspace(100, 199, 10).round()).astype(int).tolist()
    assert evenly_spaced(rows, 1.0, 2, 1) is rows and len(evenly_spaced(rows, 1000, 2, 1)) == 100


def test_every_ddp_rank_gets_its_validation_batches(two_organisms: dict[str, Path]) -> None:
    """An int limit_val_batches counts batches per process: with 2 ranks each rank's loader has them."""
    from types import SimpleNamespace

    for rank in (0, 1):  # human has 3 validation windows; one batch of 1 per rank needs 2 of them
        dm = EnformerDataModule({"human": two_organisms["human"]}, batch_size=1, val_limit=1)
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2, max_steps=-1)
        dm.setup("fit")
        assert len(dm.val_dataloader()) == 1, rank
