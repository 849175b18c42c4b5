"""Training on sub-windows (``train.sub_windows``): where they lie, how they are drawn, and that a run
with them trains the real network on the cut sequence and targets before returning to full windows."""

from __future__ import annotations

from pathlib import Path

import h5py
import lightning as L
import numpy as np
import pytest
import torch

from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.h5 import read_meta
from enformer_lite.errors import InputError
from enformer_lite.model import ModelConfig, build_model
from enformer_lite.training.config import AugmentConfig, SubWindowConfig, TrainConfig
from enformer_lite.training.dataset import SubWindows, WindowDataset
from enformer_lite.training.sampler import AlternatingBatchSampler
from enformer_lite.training.train import train
from test_train_support import REAL_TINY_MODEL, TARGET_LENGTH, TRACKS, WINDOW_LENGTH, mouse_tracks, write_h5


def test_sub_windows_cut_the_sequence_and_targets_of_the_same_genome_bins() -> None:
    # Stored windows: 4,096 bp, 32 bins of 128 bp, targets on the central 16 (bins 8-23).
    window = WindowGeometry(4096, 128, 16)
    sub = SubWindows.resolve(window, SubWindowConfig(length=1024), "data.h5")
    # 8 bins per sub-window; the full window scores half its bins, so a sub-window scores 4 (2 cut per side).
    assert (sub.n_bins, sub.target_length, sub.n_offsets) == (8, 4, 13)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 4096).astype(np.uint8)
    stored_bins = np.arange(8, 24)  # the window bin of each stored target row
    targets = np.stack([stored_bins, -stored_bins], axis=1).astype(np.float32)
    mask = (stored_bins % 3 > 0).astype(np.float32)
    covered = set()
    for offset in range(sub.n_offsets):
        got_codes, got_targets, got_mask = sub.cut(codes, targets, mask, offset)
        assert got_codes.shape == (1024,) and got_targets.shape == (4, 2)
        # Independently: the sub-window's scored bins are its bins 2..5; find where its bases sit in the window.
        start_bp = next(s for s in range(0, 4096 - 1024 + 1, 128) if np.array_equal(codes[s:s + 1024], got_codes))
        scored = start_bp // 128 + 2 + np.arange(4)
        np.testing.assert_array_equal(got_targets[:, 0], scored)  # each target row is the bin it claims to be
        np.testing.assert_array_equal(got_mask, (scored % 3 > 0).astype(np.float32))
        covered.update(scored.tolist())
    assert covered == set(stored_bins.tolist())  # the offsets slide over the whole target span
    with pytest.raises(IndexError):
        sub.cut(codes, targets, mask, sub.n_offsets)


def test_sub_window_target_length_can_score_more_of_each_sub_window() -> None:
    window = WindowGeometry(4096, 128, 16)
    sub = SubWindows.resolve(window, SubWindowConfig(length=1024, target_length=6), "data.h5")
    assert (sub.target_length, sub.n_offsets) == (6, 11)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"length": 1000}, "multiple of the bin size 128"),
        ({"length": 8192}, "at most the window length"),
        ({"length": 1024, "target_length": 5}, "crop the 8 bins of a sub-window equally"),
        ({"length": 1024, "target_length": 10}, "target_length 10"),
        # a 2,048-bp sub-window scoring 4 of its 16 bins would need 6 bins of context per side; the window has 2
        ({"length": 2048, "target_length": 4}, "stored crop of 2 bins"),
    ],
)
def test_impossible_sub_windows_are_rejected_naming_the_key_and_file(settings: dict, message: str) -> None:
    window = WindowGeometry(4096, 128, 28 if settings.get("length") == 2048 else 16)
    with pytest.raises(InputError, match=message) as caught:
        SubWindows.resolve(window, SubWindowConfig(**settings), "results/human/data.h5")
    assert "config train.sub_windows" in str(caught.value) and "results/human/data.h5" in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sub_windows": {"lenght": 1024}}, "lenght"),
        ({"sub_windows": {"length": 1024, "fraction": 0}}, "fraction"),
        ({"sub_windows": {"length": -128}}, "length"),
    ],
)
def test_bad_sub_window_settings_are_config_errors(values: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        TrainConfig.from_dict(values)


def test_sub_windows_off_leave_the_run_fingerprint_of_older_runs() -> None:
    assert "sub_windows" not in TrainConfig().learning_fingerprint()
    assert TrainConfig.from_dict({"sub_windows": {"length": 1024}}).learning_fingerprint()["sub_windows"]["length"] == 1024
    assert SubWindowConfig(length=1024, fraction=0.75).steps(200) == 150 and SubWindowConfig().steps(200) == 0


def test_the_model_keeps_the_central_bins_it_is_asked_for() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig.from_preset("tiny", heads={"human": 3}, target_length=8, num_conv_tower=3)
    model = build_model(cfg).eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 512)), 4).float()  # 32 bins of 16 bp
    with torch.no_grad():
        wide = model(x, head="human", target_length=20)
        narrow = model(x, head="human", target_length=6)
        default = model(x, head="human")
    assert wide.shape == (2, 20, 3) and narrow.shape == (2, 6, 3) and default.shape == (2, 8, 3)
    # bins are cropped symmetrically: the central 6 of 20 are bins 7-12 of the wide output
    torch.testing.assert_close(narrow, wide[:, 7:13])
    torch.testing.assert_close(default, wide[:, 6:14])
    with pytest.raises(ValueError, match="target_length=7"):
        model(x, head="human", target_length=7)


def test_the_sampler_adds_offsets_to_the_first_batches_only_and_resumes_them() -> None:
    def make() -> AlternatingBatchSampler:
        return AlternatingBatchSampler([5, 3], 2, shuffle=True, cycle=True, seed=4, length=12,
                                       augment=AugmentConfig(max_shift=2), sub_windows=(7, 9))

    batches = list(make())
    assert all(len(key) == 4 and 0 <= key[3] < 9 for batch in batches[:7] for key in batch)
    assert all(len(key) == 3 for batch in batches[7:] for key in batch)
    assert len({key[3] for batch in batches[:7] for key in batch}) > 3  # drawn, not constant
    resumed = make()
    resumed.skip_to(5)
    assert list(resumed)[:7] == batches[5:]
    plain = AlternatingBatchSampler([4], 2, shuffle=False, cycle=True, length=2, sub_windows=(1, 3))
    first, second = list(plain)
    assert [key[:3] for key in first] == [(0, 0, False), (1, 0, False)] and second == [2, 3]


def test_a_sub_window_item_is_the_cut_then_augmented_window(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "human.h5", "human", ["train"] * 3)
    meta = read_meta(path)
    sub = SubWindows.resolve(meta.geometry, SubWindowConfig(length=128), str(path))  # 8 bins, 4 scored
    dataset = WindowDataset(meta, [0, 1, 2], "human", sub_windows=sub)
    with h5py.File(path) as h5:
        codes, targets = h5["sequence"][2], h5["targets"][2].astype(np.float32)
    item = dataset[(2, 0, True, 3)]
    # offset 3: stored target rows 3-6; the sub-window starts (crop 4 - cut 2 + 3) = 5 bins into the window
    expected = codes[5 * 16 : 13 * 16]
    expected = np.array([{0: 3, 1: 2, 2: 1, 3: 0, 4: 4}[c] for c in expected[::-1]])  # reverse complement
    np.testing.assert_array_equal(np.where(item["x"].numpy().sum(1) > 0, item["x"].numpy().argmax(1), 4), expected)
    np.testing.assert_array_equal(item["y"].numpy(), targets[3:7][::-1][:, [1, 0, 2]])
    assert item["sub_window"] is True and "sub_window" not in dataset[(2, 0, False)]


class Shapes(L.Callback):
    """Records (input length, target bins) of every training batch."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: dict, *args: object) -> None:
        self.seen.append((batch["x"].shape[1], batch["y"].shape[1]))


def test_a_run_trains_on_sub_windows_first_and_publishes_a_full_window_model(tmp_path: Path) -> None:
    data = {
        "human": write_h5(tmp_path / "human.h5", "human", ["train"] * 4 + ["valid"] * 2, targets="planted"),
        "mouse": write_h5(tmp_path / "mouse.h5", "mouse", ["train"] * 2 + ["valid"], tracks=mouse_tracks(), seed=5),
    }
    cfg = TrainConfig.from_dict({"max_steps": 8, "batch_size": 2, "val_check_interval": 4, "progress_bar": False,
                                 "sub_windows": {"length": 128, "fraction": 0.75}})
    shapes = Shapes()
    out = train(data, tmp_path / "model", REAL_TINY_MODEL, cfg, callbacks=[shapes])
    assert shapes.seen == [(128, 4)] * 6 + [(WINDOW_LENGTH, TARGET_LENGTH)] * 2
    from enformer_lite.inference.checkpoint import load_checkpoint

    model, _ = load_checkpoint(out / "best.ckpt")
    x = torch.zeros(1, WINDOW_LENGTH, 4)
    assert model.eval()(x, head="human").shape == (1, TARGET_LENGTH, 3)


def test_sub_windows_longer_than_the_windows_stop_before_training(tmp_path: Path) -> None:
    data = {"human": write_h5(tmp_path / "human.h5", "human", ["train"] * 2 + ["valid"])}
    cfg = TrainConfig.from_dict({"max_steps": 2, "batch_size": 1, "val_check_interval": 2, "progress_bar": False,
                                 "sub_windows": {"length": 512}})
    with pytest.raises(InputError, match="human.h5"):
        train(data, tmp_path / "model", REAL_TINY_MODEL, cfg)
    assert not (tmp_path / "model" / "best.ckpt").exists()


def test_peak_centred_offsets_put_the_drawn_tracks_signal_at_the_centre() -> None:
    window = WindowGeometry(512, 16, 24)  # 32 bins, targets on the central 24
    sub = SubWindows.resolve(window, SubWindowConfig(length=128, target_length=4), "data.h5")  # offsets 0 … 20
    assert (sub.target_length, sub.n_offsets) == (4, 21)
    targets = np.full((24, 2), 0.5, dtype=np.float32)
    targets[13, 0] = 2.5   # track 0: one peak, excess 2 above the median 0.5
    targets[5, 1], targets[20, 1] = 1.5, 3.5  # track 1: excess 1 and 3
    mask = np.ones(24, dtype=np.float32)
    # the scored bins are offset … offset + 3, centre offset + 2: the peak at bin 13 needs offset 11
    assert all(sub.peak_offset(targets, mask, 0.2, u) == 11 for u in (0.0, 0.5, 0.999))
    # track 1 (draw ≥ 0.5): bin 5 with probability 1/4, bin 20 (offset 18) with 3/4
    assert [sub.peak_offset(targets, mask, 0.7, u) for u in (0.1, 0.24, 0.26, 0.9)] == [3, 3, 18, 18]
    mask[13] = 0  # a masked peak does not count; a flat track gives no centre
    assert sub.peak_offset(targets, mask, 0.2, 0.5) is None
    assert sub.peak_offset(np.ones((24, 2), dtype=np.float32), np.ones(24), 0.9, 0.5) is None
    edge = np.zeros((24, 1), dtype=np.float32)
    edge[0] = 1.0  # bin 0 is no sub-window's centre (the first centre is bin 2)
    assert sub.peak_offset(edge, np.ones(24), 0.0, 0.5) is None


def test_specific_offsets_centre_on_where_a_track_exceeds_its_groups_mean_not_on_shared_peaks() -> None:
    window = WindowGeometry(512, 16, 24)
    sub = SubWindows.resolve(window, SubWindowConfig(length=128, target_length=4, peak_mode="specific"), "data.h5")
    targets = np.full((24, 4), 0.5, dtype=np.float32)  # tracks 0-2: one assay (a group); track 3: another
    targets[8, :3] = 6.0      # a peak all three share: no excess over the group mean anywhere
    targets[15, 1] = 3.5      # track 1 alone: 3.5 - (0.5 + 3.5 + 0.5) / 3 = 2 above the mean
    targets[[4, 18], 2] = [2.0, 5.0]  # track 2 alone: excess 1 and 3 (the mean of 0.5, 0.5, 2 is 1; of 0.5, 0.5, 5 is 2)
    targets[10, 3] = 50.0     # outside every group: never a centre under peak_mode specific
    mask = np.ones(24, dtype=np.float32)
    groups = [[0, 1, 2]]
    # members in group order: draw < 1/3 track 0, < 2/3 track 1, else track 2; the centre is offset + 2
    assert sub.peak_offset(targets, mask, 0.1, 0.5, groups) is None  # track 0 never exceeds its group
    assert all(sub.peak_offset(targets, mask, 0.5, u, groups) == 13 for u in (0.0, 0.5, 0.999))
    # track 2: bin 4 (offset 2) with weight 1, bin 18 (offset 16) with weight 3
    assert [sub.peak_offset(targets, mask, 0.9, u, groups) for u in (0.1, 0.24, 0.26, 0.9)] == [2, 2, 16, 16]
    assert sub.peak_offset(targets, mask, 0.5, 0.5, ()) is None  # no group: the uniform offset
    mask[15] = 0
    assert sub.peak_offset(targets, mask, 0.5, 0.5, groups) is None  # a masked bin weighs nothing
    signal = SubWindows.resolve(window, SubWindowConfig(length=128, target_length=4), "data.h5")
    assert signal.peak_offset(targets, mask, 0.99, 0.5, groups) == 8  # peak_mode signal: track 3's peak


def test_peak_min_sd_keeps_only_the_bins_far_above_the_rest() -> None:
    window = WindowGeometry(512, 16, 24)
    targets = np.zeros((24, 1), dtype=np.float32)
    targets[13, 0], targets[5, 0] = 12.0, 1.0  # median 0; excess SD over 24 bins = sqrt(145/24 - (13/24)^2) = 2.40
    mask = np.ones(24, dtype=np.float32)

    def offset(min_sd: float, u: float) -> int | None:
        sub = SubWindows.resolve(window, SubWindowConfig(length=128, target_length=4, peak_min_sd=min_sd), "data.h5")
        return sub.peak_offset(targets, mask, 0.0, u)

    assert offset(0.0, 0.05) == 3 and offset(0.0, 0.5) == 11  # weights 1 and 12: bin 5 takes 1/13 of the draws
    assert offset(1.0, 0.05) == 11  # the floor 2.40 drops bin 5
    assert offset(6.0, 0.5) is None  # the floor 14.4 drops bin 13 too: the uniform offset
    with pytest.raises(InputError, match="peak_min_sd"):
        SubWindowConfig(length=128, peak_min_sd=-1.0)


def test_a_specific_item_is_read_with_the_files_own_groups(tmp_path: Path) -> None:
    dnase = [{**TRACKS[2], "index": 2 + j, "id": f"dnase_{j}", "file": f"dnase{j}.bw", "strand_pair": 2 + j}
             for j in range(2)]
    tracks = TRACKS[:2] + dnase  # a CAGE strand pair (no group: two strands) and two DNase tracks (a group)
    path = write_h5(tmp_path / "human.h5", "human", ["train"] * 2, tracks=tracks)
    meta = read_meta(path)
    sub = SubWindows.resolve(meta.geometry, SubWindowConfig(length=128, peak_mode="specific"), str(path))
    with h5py.File(path, "r+") as h5:
        targets = np.ones_like(h5["targets"][1], dtype=np.float32)
        targets[3, 0] = 90.0   # a CAGE peak (no group): ignored
        targets[6, 3] = 9.0    # the second DNase track above the pair's mean
        h5["targets"][1] = targets
    item = WindowDataset(meta, [0, 1], "human", sub_windows=sub)[(1, 0, False, 0, 0.99, 0.3)]
    np.testing.assert_array_equal(item["y"].numpy(), targets[4:8])  # bin 6 = the centre (offset + 2)


def test_peak_mode_specific_without_any_group_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    data = {"human": write_h5(tmp_path / "human.h5", "human", ["train"] * 4 + ["valid"] * 2)}
    cfg = TrainConfig.from_dict({"max_steps": 2, "batch_size": 2, "progress_bar": False,
                                 "sub_windows": {"length": 128, "peak_fraction": 0.5, "peak_mode": "specific"}})
    with pytest.raises(InputError, match=r"peak_mode specific.*human\.h5"):
        train(data, tmp_path / "model", REAL_TINY_MODEL, cfg)
    assert not (tmp_path / "model" / "best.ckpt").exists()


def test_a_bad_peak_mode_is_a_config_error_and_signal_keeps_the_fingerprint() -> None:
    with pytest.raises(InputError, match="peak_mode"):
        TrainConfig.from_dict({"sub_windows": {"length": 1024, "peak_fraction": 0.5, "peak_mode": "cell"}})
    signal = TrainConfig.from_dict({"sub_windows": {"length": 1024, "peak_fraction": 0.5}}).learning_fingerprint()
    specific = TrainConfig.from_dict({"sub_windows": {"length": 1024, "peak_fraction": 0.5, "peak_mode": "specific"}})
    assert "peak_mode" not in signal["sub_windows"]
    assert specific.learning_fingerprint()["sub_windows"]["peak_mode"] == "specific"
    assert "peak_min_sd" not in signal["sub_windows"]
    floor = TrainConfig.from_dict({"sub_windows": {"length": 1024, "peak_fraction": 0.5, "peak_min_sd": 3}})
    assert floor.learning_fingerprint()["sub_windows"]["peak_min_sd"] == 3


def test_the_sampler_marks_the_peak_fraction_of_sub_window_keys_and_keeps_the_plain_offsets() -> None:
    def make(peak: float) -> AlternatingBatchSampler:
        return AlternatingBatchSampler([50], 4, shuffle=True, cycle=True, seed=3, length=100, sub_windows=(100, 9),
                                       peak_fraction=peak)

    plain, half, every = list(make(0.0)), list(make(0.5)), list(make(1.0))
    assert all(len(key) == 4 for batch in plain for key in batch)
    assert all(len(key) == 6 and 0 <= key[4] < 1 and 0 <= key[5] < 1 for batch in every for key in batch)
    marked = sum(len(key) == 6 for batch in half for key in batch)
    assert 150 < marked < 250  # of 400 keys, each marked with probability 1/2
    assert [[key[:4] for key in batch] for batch in half] == plain  # the uniform offsets stay the fallback
    with pytest.raises(ValueError, match="peak_fraction"):
        make(1.5)


def test_a_peak_centred_item_is_scored_on_the_bins_around_the_peak(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "human.h5", "human", ["train"] * 2)
    meta = read_meta(path)
    sub = SubWindows.resolve(meta.geometry, SubWindowConfig(length=128), str(path))  # 4 scored bins
    with h5py.File(path, "r+") as h5:
        targets = h5["targets"][1].astype(np.float32)
        targets[:, 2] = 0.0
        targets[6, 2] = 9.0
        h5["targets"][1] = targets
    item = WindowDataset(meta, [0, 1], "human", sub_windows=sub)[(1, 0, False, 0, 0.99, 0.3)]
    np.testing.assert_array_equal(item["y"].numpy(), targets[4:8])  # peak bin 6 = the centre (offset + 2)
    with h5py.File(path, "r+") as h5:
        h5["targets"][1] = np.zeros_like(targets)
    flat = WindowDataset(meta, [0, 1], "human", sub_windows=sub)[(1, 0, False, 1, 0.99, 0.3)]
    assert flat["y"].shape[0] == 4 and flat["x"].shape[0] == 128  # no signal: the uniform offset 1


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_a_bad_peak_fraction_is_a_config_error(value: float) -> None:
    with pytest.raises(InputError, match="peak_fraction"):
        TrainConfig.from_dict({"sub_windows": {"length": 1024, "peak_fraction": value}})


def test_peak_fraction_off_leaves_the_fingerprint_of_sub_window_runs() -> None:
    on = TrainConfig.from_dict({"sub_windows": {"length": 1024, "peak_fraction": 0.5}}).learning_fingerprint()
    off = TrainConfig.from_dict({"sub_windows": {"length": 1024}}).learning_fingerprint()
    assert on["sub_windows"]["peak_fraction"] == 0.5 and "peak_fraction" not in off["sub_windows"]
