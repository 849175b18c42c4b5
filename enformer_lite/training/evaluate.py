"""``enformer-lite evaluate``: accuracy of a trained model on the test windows of one genome.

Writes a TSV with one row per track:

==================  ====================================================================
genome, track_*     which track (index, id, assay, strand)
n_positions         test bins × windows compared
pearson             Pearson r across all test positions (training scale, torchmetrics)
n_genes             test genes used for the TSS score (CAGE tracks only)
pearson_tss         Pearson r across those genes of the signal at the TSS bin(s)
pearson_tss_log1p   the same on log(1 + signal)
==================  ====================================================================

A gene counts when its TSS lies in the central target bins of a test window
(the most central window if several). Stranded CAGE tracks (strand ``+``/``-``)
are scored on genes of the same strand; unstranded ones on all genes. The TSS
signal is the sum over the TSS bin and ``tss_flank_bins`` bins on either side.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from torchmetrics.regression import PearsonCorrCoef

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.training.cli_common import add_inference_flags, settings_from_args
from enformer_lite.training.config import from_mapping
from enformer_lite.training.data import collate_organism_batch
from enformer_lite.training.dataset import WindowDataset, read_windows
from enformer_lite.training.genes import place_genes, read_genes_bed
from enformer_lite.training.inference import TTAConfig, open_trained, predict
from enformer_lite.training.module import ModelBuilder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """The ``evaluate:`` config section."""

    batch_size: int = 4
    reverse_complement: bool = False
    shifts: tuple[int, ...] = (0,)
    tss_flank_bins: int = 0
    device: str = "auto"
    num_workers: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> EvalConfig:
        values = dict(values or {})
        values.pop("resources", None)  # read by the workflow only
        if "shifts" in values:
            values["shifts"] = tuple(values["shifts"])
        return from_mapping(cls, values, "evaluate")

    @property
    def tta(self) -> TTAConfig:
        return TTAConfig(self.reverse_complement, self.shifts)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two vectors (torchmetrics); NaN when fewer than 2 values or no variance."""
    if len(x) < 2:
        return float("nan")
    metric = PearsonCorrCoef()
    metric.update(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64))
    return float(metric.compute())


def tss_signal(values: np.ndarray, bins: np.ndarray, flank: int) -> np.ndarray:
    """Sums of one window's ``values`` (target_length, K) over bins ``bin - flank .. bin + flank``.

    ``bins`` (G,) are TSS bins; the range is clipped to the window. Returns (G, K).
    """
    cumulative = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0, dtype=np.float64)])
    lo = np.clip(bins - flank, 0, len(values))
    hi = np.clip(bins + flank + 1, 0, len(values))
    return cumulative[hi] - cumulative[lo]


def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    head: str | None = None,
    genes: str | Path | None = None,
    cfg: EvalConfig | None = None,
    builder: ModelBuilder | None = None,
) -> pd.DataFrame:
    """Score the test windows of ``data`` with the model in ``checkpoint``; one row per track."""
    cfg = cfg or EvalConfig()
    model, meta, head, device = open_trained(checkpoint, data, head, cfg.device, builder)
    windows = read_windows(data)
    test_rows = np.flatnonzero(windows["split"] == "test")
    if not len(test_rows):
        raise InputError(f"{data}: no windows with split 'test'")
    cage = [t.index for t in meta.tracks if t.assay.upper() == "CAGE"]
    placed = None
    if genes and cage:
        placed = place_genes(
            read_genes_bed(genes), windows["chrom"][test_rows], windows["start"][test_rows],
            meta.window_length, meta.bin_size, meta.target_length,
        )
        log.info("%s: %d genes have their TSS in the target bins of a test window", genes, len(placed))
    by_window = {} if placed is None else {w: g.index.to_numpy() for w, g in placed.groupby("window")}
    n_genes = 0 if placed is None else len(placed)
    pred_tss = np.zeros((n_genes, len(cage)))
    obs_tss = np.zeros((n_genes, len(cage)))

    metric = PearsonCorrCoef(num_outputs=meta.n_tracks).to(device)
    dataset = WindowDataset(meta, test_rows, organism=head)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, collate_fn=collate_organism_batch, num_workers=cfg.num_workers)
    seen = 0
    for batch in loader:
        x, y = batch["x"].to(device), batch["y"].to(device)
        pred = predict(model, x, head, meta.strand_pair, cfg.tta)
        metric.update(pred.reshape(-1, meta.n_tracks), y.reshape(-1, meta.n_tracks))
        pred_np, y_np = pred.cpu().numpy(), y.cpu().numpy()
        for b in range(len(pred_np)):
            rows = by_window.get(seen + b)
            if rows is None:
                continue
            bins = placed["bin"].to_numpy()[rows]
            pred_tss[rows] = tss_signal(pred_np[b][:, cage], bins, cfg.tss_flank_bins)
            obs_tss[rows] = tss_signal(y_np[b][:, cage], bins, cfg.tss_flank_bins)
        seen += len(pred_np)
    per_track = metric.compute().reshape(-1).cpu().numpy()
    records = []
    for track in meta.tracks:
        row = {
            "genome": meta.genome, "head": head, "track_index": track.index, "track_id": track.id,
            "assay": track.assay, "strand": track.strand, "n_positions": len(test_rows) * meta.target_length,
            "pearson": float(per_track[track.index]), "n_genes": 0,
            "pearson_tss": float("nan"), "pearson_tss_log1p": float("nan"),
        }
        if placed is not None and track.index in cage:
            j = cage.index(track.index)
            use = np.ones(n_genes, bool) if track.strand not in "+-" else (placed["strand"] == track.strand).to_numpy()
            p, o = pred_tss[use, j], obs_tss[use, j]
            row.update(n_genes=int(use.sum()), pearson_tss=pearson(p, o),
                       pearson_tss_log1p=pearson(np.log1p(np.maximum(p, 0)), np.log1p(np.maximum(o, 0))))
        records.append(row)
    dataset.close()
    return pd.DataFrame.from_records(records)


def write_table(table: pd.DataFrame, out: str | Path) -> None:
    """Write ``table`` as TSV atomically (NaN as ``NA``)."""
    with atomic_output(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite evaluate``."""
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (best.ckpt)")
    parser.add_argument("--data", required=True, help="data.h5 of one genome; its 'test' windows are scored")
    parser.add_argument("--head", help="model head to use (default: the genome attribute of --data)")
    parser.add_argument("--genes", help="genes BED6 (chrom, tss, tss+1, id, score, strand) for the TSS score")
    parser.add_argument("--out", required=True, help="output TSV")
    add_inference_flags(parser, "evaluate")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite evaluate``."""
    cfg = EvalConfig.from_dict(settings_from_args(args, "evaluate"))
    table = evaluate(args.checkpoint, args.data, args.head, args.genes or None, cfg)
    write_table(table, args.out)
    for row in table.itertuples():
        log.info("%s %s: r=%.3f over positions; TSS r=%.3f over %d genes", row.head, row.track_id, row.pearson,
                 row.pearson_tss, row.n_genes)
    return 0
