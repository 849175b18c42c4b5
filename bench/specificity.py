"""Does a trained model tell the cell types apart? Predicted against observed tracks of each assay group.

For every group of two or more tracks of one assay and strand (DNase of three cell types, say; the
groups of ``evaluate``'s ``pearson_specific``), over the unmasked bins of the test windows of one
``data.h5`` (training scale, no test-time augmentation), the script reports:

- ``between_track_r``: Pearson r between the group's tracks, predicted and observed. A model that
  predicts one shared profile for every cell type has r ≈ 1 where the observed tracks have far less;
- ``deviation_sd``: the SD of each track's difference from the group mean, predicted and observed:
  the size of the cell-type-specific part;
- ``at_top_specific_bins``: at the ``--top`` bins where each track exceeds its group mean most in the
  observed data, the mean observed and predicted value of every track of the group. A model that
  learned the cell types predicts a peak in that track only.

Command (``$DEMO``: a checkout where ``snakemake --cores 2 results/human/data.h5`` has run; the
checkpoint: a training run's ``best.ckpt`` or a snapshot of ``bench/learning_curve.py``)::

    python bench/specificity.py --checkpoint results/model/best.ckpt --data $DEMO/results/human/data.h5 \\
        --out bench/results/specificity.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from enformer_lite.data.dataset import WindowRows, collate_organism_batch
from enformer_lite.data.h5 import read_windows
from enformer_lite.data.tracks import TrackSpec, specificity_groups
from enformer_lite.inference.trained import open_model
from enformer_lite.inference.tta import TTAConfig, predict


def predicted_and_observed(
    checkpoint: Path, data: Path, max_windows: int
) -> tuple[list[TrackSpec], np.ndarray, np.ndarray]:
    """The T tracks, predicted and observed values (bins, T) of the unmasked bins of up to ``max_windows``
    test windows."""
    trained = open_model(checkpoint, None, "cpu", data, None)
    meta = trained.data
    split = read_windows(data)["split"]
    rows = np.flatnonzero(split == "test")[:max_windows]
    dataset = WindowRows(meta, rows, organism=trained.head)
    pred, obs = [], []
    try:
        with torch.no_grad():
            for batch in DataLoader(dataset, batch_size=4, collate_fn=collate_organism_batch):
                keep = batch["mask"].reshape(-1) > 0
                p = predict(trained.model, batch["x"], trained.head, meta.strand_pair, TTAConfig())  # no TTA
                pred.append(p.reshape(-1, meta.n_tracks)[keep].numpy())
                obs.append(batch["y"].reshape(-1, meta.n_tracks)[keep].numpy())
    finally:
        dataset.close()
    return list(meta.tracks), np.concatenate(pred), np.concatenate(obs)


def group_report(tracks: list[TrackSpec], pred: np.ndarray, obs: np.ndarray, top: int) -> list[dict]:
    """One record per assay group (see the module docstring); ``pred``, ``obs`` (bins, T)."""
    records = []
    for members in specificity_groups(tracks):
        names = [tracks[j].id for j in members]
        p, o = pred[:, members].astype(np.float64), obs[:, members].astype(np.float64)
        dev_p, dev_o = p - p.mean(1, keepdims=True), o - o.mean(1, keepdims=True)
        at_top = {}
        for k, name in enumerate(names):
            bins = np.argsort(-dev_o[:, k])[:top]
            at_top[name] = {"observed": dict(zip(names, o[bins].mean(0).round(3).tolist())),
                            "predicted": dict(zip(names, p[bins].mean(0).round(3).tolist()))}
        records.append({
            "tracks": names,
            "between_track_r": {"predicted": np.corrcoef(p.T).round(4).tolist(),
                                "observed": np.corrcoef(o.T).round(4).tolist()},
            "deviation_sd": {"predicted": dict(zip(names, dev_p.std(0).round(4).tolist())),
                             "observed": dict(zip(names, dev_o.std(0).round(4).tolist()))},
            "at_top_specific_bins": at_top,
        })
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--max-windows", type=int, default=1000, help="test windows scored (first ones)")
    parser.add_argument("--top", type=int, default=200, help="most specific observed bins per track")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/specificity.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tracks, pred, obs = predicted_and_observed(args.checkpoint, args.data, args.max_windows)
    groups = group_report(tracks, pred, obs, args.top)
    report = {"checkpoint": str(args.checkpoint), "data": str(args.data), "n_bins": len(pred),
              "load_average": [round(x, 2) for x in os.getloadavg()], "groups": groups}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for g in groups:
        print(" / ".join(g["tracks"]))
        print("  between-track r, predicted:", g["between_track_r"]["predicted"][0][1:],
              "observed:", g["between_track_r"]["observed"][0][1:])
        print("  deviation SD, predicted:", g["deviation_sd"]["predicted"], "observed:", g["deviation_sd"]["observed"])
        for name, values in g["at_top_specific_bins"].items():
            print(f"  at {name}'s top bins: observed {values['observed']} predicted {values['predicted']}")


if __name__ == "__main__":
    main()
