"""The evaluate stage: accuracy of a trained model on the test windows of one genome.

Writes a TSV with one row per track:

==================  ====================================================================
genome, head        the data's genome and the model head that scored it
track_*, assay,     which track (index, id, assay, strand)
strand
n_positions         test bins compared (bins of test windows less the masked ones)
pearson             Pearson r across all test positions (training scale, torchmetrics)
n_genes             test genes used for the TSS score (CAGE tracks only)
pearson_tss         Pearson r across those genes of the signal at the TSS bin(s)
pearson_tss_log1p   the same on log(1 + signal)
pearson_specific    Pearson r across test positions of the track's difference from the mean
                    of its group (the tracks of the same assay and strand), predicted
                    against observed: what the model says about this cell type that the
                    others do not; NA for a track alone in its group
==================  ====================================================================

A gene counts when its TSS lies in the central target bins of a test window
(the most central window if several) and its TSS bin is not masked. Masked bins
(``target_mask`` of ``data.h5``: mostly N, past the chromosome end, blacklisted)
take no part in any score. Stranded CAGE tracks (strand ``+``/``-``)
are scored on genes of the same strand; unstranded ones on all genes. The TSS
signal is the sum over the TSS bin and ``tss_flank_bins`` bins on either side.
With ``--tss-out`` the per-gene values behind ``pearson_tss`` are written too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from enformer_lite.atomic import atomic_output
from enformer_lite.data.dataset import WindowRows, collate_organism_batch
from enformer_lite.data.genes import place_genes, read_genes
from enformer_lite.data.h5 import read_windows
from enformer_lite.data.tracks import TrackSpec, specificity_groups
from enformer_lite.errors import InputError
from enformer_lite.inference.checkpoint import ModelBuilder
from enformer_lite.inference.signal import Untransform, tss_sum
from enformer_lite.inference.trained import open_model
from enformer_lite.inference.tta import TTAConfig, predict
from enformer_lite.metrics import track_pearson, update_pearson
from enformer_lite.sections import from_mapping

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
    metric = track_pearson()
    update_pearson(metric, torch.tensor(x), torch.tensor(y))  # copies: pandas may hand read-only arrays
    return float(metric.compute())


def specificity_matrix(tracks: list[TrackSpec]) -> tuple[np.ndarray, np.ndarray]:
    """(T, T) matrix ``M`` with ``y @ M`` = each track minus the mean of its group (same assay and
    strand) at each position, and the (T,) mask of tracks whose group has at least two tracks (the
    columns of the others are left as identity and are not used)."""
    matrix = np.eye(len(tracks))
    grouped = np.zeros(len(tracks), dtype=bool)
    for members in specificity_groups(tracks):
        matrix[np.ix_(members, members)] -= 1.0 / len(members)
        grouped[members] = True
    return matrix, grouped


TSS_COLUMNS = [
    "gene_id", "chrom", "tss", "strand", "track_id", "observed", "predicted", "observed_counts", "predicted_counts",
]


@dataclass(frozen=True)
class EvalResult:
    """``tracks``: one row per track (see the module docstring); ``tss``: one row per test gene and
    CAGE track, columns :data:`TSS_COLUMNS`: the TSS signal on the training scale (``observed``,
    ``predicted``) and on the original scale of the bigWigs (``*_counts``: each bin untransformed,
    as a sum of per-base values, then summed over the TSS bins)."""

    tracks: pd.DataFrame
    tss: pd.DataFrame


def tss_rows(placed: pd.DataFrame, tracks: list[TrackSpec], values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long table of per-gene TSS ``values`` (name → (G, K)) for K tracks; stranded tracks keep same-strand genes."""
    frames = []
    for j, track in enumerate(tracks):
        use = (placed["strand"] == track.strand).to_numpy() if track.strand in ("+", "-") else np.ones(len(placed), bool)
        frames.append(pd.DataFrame({
            "gene_id": placed["gene_id"].to_numpy()[use], "chrom": placed["chrom"].to_numpy()[use],
            "tss": placed["tss"].to_numpy()[use], "strand": placed["strand"].to_numpy()[use],
            "track_id": track.id, **{name: v[use, j] for name, v in values.items()},
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TSS_COLUMNS)


def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    head: str | None = None,
    genes: str | Path | None = None,
    cfg: EvalConfig | None = None,
    builder: ModelBuilder | None = None,
) -> EvalResult:
    """Score the test windows of ``data`` with the model in ``checkpoint``."""
    cfg = cfg or EvalConfig()
    trained = open_model(checkpoint, head, cfg.device, data, builder)
    model, meta, head, device = trained.model, trained.data, trained.head, trained.device
    assert meta is not None
    windows = read_windows(data)
    test_rows = np.flatnonzero(windows["split"] == "test")
    # Windows that overlap a pretrained model's training regions (leakage guard) are left out.
    excluded = ((trained.meta.get("data_meta") or {}).get(head) or {}).get("excluded_rows") or []
    if len(excluded):
        log.info("%s: %d test window(s) overlapping the pretrained model's regions left out",
                 data, int(np.isin(test_rows, excluded).sum()))
        test_rows = np.setdiff1d(test_rows, excluded)
    if not len(test_rows):
        raise InputError(f"{data}: no windows with split 'test'")
    cage = [t for t in meta.tracks if t.assay.upper() == "CAGE"]
    cage_columns = [t.index for t in cage]
    placed = pd.DataFrame(columns=["gene_id", "chrom", "tss", "strand", "window", "bin"])
    if genes and cage:
        placed = place_genes(
            read_genes(genes, dict.fromkeys(windows["chrom"].tolist())), windows["chrom"][test_rows], windows["start"][test_rows], meta.geometry
        )
        log.info("%s: %d genes have their TSS in the target bins of a test window", genes, len(placed))
    genes_of_window = {w: g.index.to_numpy() for w, g in placed.groupby("window")}
    to_counts = Untransform(cage, "bin_total", meta.bin_size)
    tss_values = {name: np.zeros((len(placed), len(cage))) for name in TSS_COLUMNS[5:]}

    metric = track_pearson(meta.n_tracks).to(device)
    deviation, grouped = specificity_matrix(meta.tracks)
    deviation_t = torch.as_tensor(deviation[:, grouped], dtype=torch.float64, device=device)  # (T, grouped tracks)
    specific = track_pearson(int(grouped.sum())).to(device) if grouped.any() else None
    dataset = WindowRows(meta, test_rows, organism=head)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, collate_fn=collate_organism_batch, num_workers=cfg.num_workers)
    seen = n_positions = 0
    gene_counted = np.ones(len(placed), dtype=bool)
    try:
        for batch in loader:
            x, y = batch["x"].to(device), batch["y"].to(device)
            pred = predict(model, x, head, meta.strand_pair, cfg.tta)
            keep = batch["mask"].reshape(-1).to(device) > 0
            flat_pred, flat_y = pred.reshape(-1, meta.n_tracks)[keep], y.reshape(-1, meta.n_tracks)[keep]
            update_pearson(metric, flat_pred, flat_y)
            if specific is not None:
                update_pearson(specific, flat_pred.double() @ deviation_t, flat_y.double() @ deviation_t)
            n_positions += int(keep.sum())
            pred_np, y_np, mask_np = pred.cpu().numpy(), y.cpu().numpy(), batch["mask"].numpy()
            for b in range(len(pred_np)):
                rows = genes_of_window.get(seen + b)
                if rows is not None:
                    bins = placed["bin"].to_numpy()[rows]
                    gene_counted[rows] = mask_np[b][bins] > 0
                    for name, source in (("observed", y_np[b]), ("predicted", pred_np[b])):
                        scaled = source[:, cage_columns]
                        tss_values[name][rows] = tss_sum(scaled, bins, cfg.tss_flank_bins)
                        tss_values[f"{name}_counts"][rows] = tss_sum(to_counts(scaled), bins, cfg.tss_flank_bins)
            seen += len(pred_np)
    finally:
        dataset.close()
    per_track = metric.compute().reshape(-1).cpu().numpy()
    per_track_specific = np.full(meta.n_tracks, np.nan)
    if specific is not None:
        per_track_specific[grouped] = specific.compute().reshape(-1).cpu().numpy()
    if not gene_counted.all():
        log.info("%s: %d gene(s) left out because their TSS bin is masked", genes, int((~gene_counted).sum()))
    tss = tss_rows(placed[gene_counted], cage, {name: v[gene_counted] for name, v in tss_values.items()})
    records = []
    for track in meta.tracks:
        row = {
            "genome": meta.genome, "head": head, "track_index": track.index, "track_id": track.id,
            "assay": track.assay, "strand": track.strand, "n_positions": n_positions,
            "pearson": float(per_track[track.index]), "n_genes": 0,
            "pearson_tss": float("nan"), "pearson_tss_log1p": float("nan"),
            "pearson_specific": float(per_track_specific[track.index]),
        }
        if track in cage and gene_counted.any():
            mine = tss[tss["track_id"] == track.id]
            p, o = mine["predicted"].to_numpy(float), mine["observed"].to_numpy(float)
            row.update(n_genes=len(mine), pearson_tss=pearson(p, o),
                       pearson_tss_log1p=pearson(np.log1p(np.maximum(p, 0)), np.log1p(np.maximum(o, 0))))
        records.append(row)
    return EvalResult(pd.DataFrame.from_records(records), tss)


def write_table(table: pd.DataFrame, out: str | Path) -> None:
    """Write ``table`` as TSV atomically (NaN as ``NA``)."""
    with atomic_output(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
