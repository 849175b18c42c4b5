"""LightningModule: loss, optimiser, schedule and validation metrics around a model.

The module owns everything about training and nothing about architecture: it
receives an ``nn.Module`` called as ``model(x, head=organism)`` with x float
one-hot (B, L, 4) returning non-negative (B, target_length, T_organism).
Its hyperparameters hold the model's config dict, so a checkpoint alone rebuilds
the model (:func:`enformer_lite.inference.open_model`).

Logged: ``train/loss`` every step; at each validation the validation metrics and
``train/<organism>/loss``, the mean training loss of that organism's steps since the
previous validation. Checkpoints hold those running sums, so that a resumed run logs
the same means as an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics import MeanMetric

from enformer_lite.data.tracks import specificity_groups, tracks_from_records
from enformer_lite.training.config import OptimConfig
from enformer_lite.training.losses import group_share_loss, loss_function
from enformer_lite.metrics import track_pearson, update_pearson


def lr_factor(step: int, warmup_steps: int, total_steps: int, schedule: str, min_ratio: float) -> float:
    """Learning-rate multiplier at optimiser step ``step``.

    Linear warm-up from ~0 to 1 over ``warmup_steps``, then ``cosine`` or ``linear``
    decay to ``min_ratio`` at ``total_steps`` (``constant`` stays at 1).
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    decay = 0.5 * (1.0 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress
    return min_ratio + (1.0 - min_ratio) * decay


def share_group_matrices(track_ids: Mapping[str, Sequence[str]], data_meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Organism → (T, G) membership of its tracks in the groups of :func:`specificity_groups`, for the
    organisms that have at least one group (the tracks come from ``data_meta``'s tracks tables)."""
    out = {}
    for name, ids in track_ids.items():
        if "tracks" not in data_meta.get(name, {}):
            continue  # a head without a tracks table trains on no data here
        tracks = tracks_from_records(data_meta[name]["tracks"])
        if [t.id for t in tracks] != list(ids):
            raise ValueError(f"{name}: data_meta tracks {[t.id for t in tracks]} are not the head's tracks {list(ids)}")
        groups = specificity_groups(tracks)
        if groups:
            matrix = torch.zeros(len(tracks), len(groups))
            for g, members in enumerate(groups):
                matrix[members, g] = 1.0
            out[name] = matrix
    return out


class EnformerModule(L.LightningModule):
    """Trains one multi-head model on batches that each carry their organism.

    Args:
        model: the network; ``model(x, head=name)``.
        model_config: JSON-able dict that rebuilds ``model`` (stored in checkpoints).
        track_ids: organism → track ids in target order (defines heads and metric names).
        optim: loss, AdamW and schedule settings.
        data_meta: organism → data summary (window geometry, tracks table) kept in
            checkpoints so that predictions can be untransformed without the data file.
        log_per_track: also log each track's validation Pearson, not only the mean.
        finetune: fine-tuning settings (:class:`enformer_lite.training.finetune.FinetuneSetup`'s
            ``settings``): ``mode`` ``head`` feeds cached embeddings (B, target_length, 2C) as ``x`` to the
            heads, ``linear`` runs the frozen trunk without gradients; ``trunk_lr_ratio`` scales the
            learning rate of every parameter outside ``heads``.
        published_track_ids: published heads the model carries untrained (stored for later stages).
    """

    def __init__(
        self,
        model: nn.Module,
        model_config: Mapping[str, Any],
        track_ids: Mapping[str, Sequence[str]],
        optim: OptimConfig | None = None,
        data_meta: Mapping[str, Any] | None = None,
        log_per_track: bool = True,
        finetune: Mapping[str, Any] | None = None,
        published_track_ids: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.finetune = dict(finetune or {})
        self.mode = self.finetune.get("mode")
        self.optim = optim if optim is not None else OptimConfig()
        self.track_ids = {name: list(ids) for name, ids in track_ids.items()}
        self.log_per_track = log_per_track
        self.save_hyperparameters(
            {
                "model_config": dict(model_config),
                "track_ids": self.track_ids,
                "optim": asdict(self.optim),
                "data_meta": dict(data_meta or {}),
                "log_per_track": log_per_track,
                **({"finetune": self.finetune} if finetune else {}),
                **({"published_track_ids": {k: list(v) for k, v in published_track_ids.items()}}
                   if published_track_ids else {}),
            }
        )
        self.loss_fn = loss_function(self.optim.loss, self.optim.total_weight)
        self.share_groups = share_group_matrices(self.track_ids, data_meta or {}) if self.optim.specificity_weight else {}
        self.val_pearson = nn.ModuleDict(
            {name: track_pearson(len(ids)) for name, ids in self.track_ids.items()}
        )
        self.val_loss = nn.ModuleDict({name: MeanMetric() for name in self.track_ids})
        self.val_loss_all = MeanMetric()
        # organism -> tensor [sum of loss × batch size, sum of batch sizes] since the last validation
        self.train_sums: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor, organism: str, target_length: int | None = None) -> torch.Tensor:
        """(B, L, 4) one-hot (or, in ``head`` mode, embeddings (B, target_length, 2C)) → (B, target_length, T_organism).

        ``target_length`` (training sub-windows) asks the model for that many central bins instead of its
        configured number."""
        crop = {} if target_length is None else {"target_length": target_length}
        if self.mode == "head":
            return self.model.head(x, organism)
        if self.mode == "linear":
            with torch.no_grad():
                embedding = self.model.trunk(x, **crop)
            return self.model.head(embedding, organism)
        return self.model(x, head=organism, **crop)

    def train(self, mode: bool = True) -> EnformerModule:
        """As ``nn.Module.train``, but a frozen trunk stays in eval mode and LoRA keeps BatchNorm statistics."""
        super().train(mode)
        if mode:
            self._freeze_modes()
        return self

    def _freeze_modes(self) -> None:
        if self.mode in ("head", "linear"):
            self.model.eval()
        elif self.mode == "lora":
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Lightning restores each submodule's own training flag around validation, bypassing train().
        self._freeze_modes()

    def _step(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predictions and targets (B, bins, T) and the loss over the bins the batch's ``mask`` keeps."""
        organism = batch["organism"]
        if organism not in self.track_ids:
            raise ValueError(f"batch organism {organism!r} has no head; heads: {sorted(self.track_ids)}")
        pred = self(batch["x"], organism, batch["y"].shape[1] if batch.get("sub_window") else None).float()
        target = batch["y"].float()
        if pred.shape != target.shape:
            raise ValueError(f"{organism}: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
        loss = self.loss_fn(pred, target, batch.get("mask"))
        groups = self.share_groups.get(organism)
        if groups is not None:
            loss = loss + self.optim.specificity_weight * group_share_loss(pred, target, groups.to(pred.device),
                                                                         batch.get("mask"))
        return pred, target, loss

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        _, _, loss = self._step(batch)
        size = batch["x"].shape[0]
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=size)
        # Per organism, a mean over the steps since the last validation (logged there): a per-step
        # value would go stale on the other organism's steps.
        organism = batch["organism"]
        step = torch.stack([loss.detach().float() * size, torch.full((), float(size), device=loss.device)])
        previous = self.train_sums.get(organism)
        self.train_sums[organism] = step if previous is None else previous.to(step.device) + step
        return loss

    def _global_train_sums(self) -> dict[str, torch.Tensor]:
        """Running sums of every organism, summed over ranks (a collective: every rank calls it alike)."""
        reduce = self.trainer.strategy.reduce if self._trainer is not None else (lambda t, reduce_op: t)
        zero = torch.zeros(2, device=self.device)
        return {o: reduce(self.train_sums.get(o, zero).to(self.device), reduce_op="sum") for o in self.track_ids}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["train_loss_sums"] = {o: sums.cpu() for o, sums in self._global_train_sums().items()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The saved sums are global: rank 0 takes them, the other ranks start from zero.
        rank = self.trainer.global_rank if self._trainer is not None else 0
        saved = checkpoint.get("train_loss_sums", {})
        self.train_sums = {o: sums.clone() for o, sums in saved.items() if o in self.track_ids} if rank == 0 else {}

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        pred, target, loss = self._step(batch)
        organism, size = batch["organism"], batch["x"].shape[0]
        self.val_loss[organism].update(loss, weight=size)
        self.val_loss_all.update(loss, weight=size)
        n_tracks = pred.shape[-1]
        pred, target = pred.reshape(-1, n_tracks), target.reshape(-1, n_tracks)
        if batch.get("mask") is not None:
            keep = batch["mask"].reshape(-1) > 0
            pred, target = pred[keep], target[keep]
        update_pearson(self.val_pearson[organism], pred, target)

    def validation_scores(self) -> dict[str, torch.Tensor]:
        """The epoch's validation losses and Pearson r (per organism, per track and ``val/pearson``,
        the mean over organisms of the mean over tracks); resets the metrics."""
        logs: dict[str, torch.Tensor] = {"val/loss": self.val_loss_all.compute()}
        means = []
        for organism, ids in self.track_ids.items():
            logs[f"val/{organism}/loss"] = self.val_loss[organism].compute()
            per_track = self.val_pearson[organism].compute().reshape(-1)
            # A track with constant (collapsed) predictions has no correlation: it counts as 0, so it
            # lowers the score that picks best.ckpt instead of dropping out of the mean.
            mean = torch.nan_to_num(per_track, nan=0.0).mean()
            logs[f"val/{organism}/pearson"] = mean
            means.append(mean)
            if self.log_per_track:
                logs.update({f"val/{organism}/pearson/{tid}": r for tid, r in zip(ids, per_track)})
            self.val_loss[organism].reset()
            self.val_pearson[organism].reset()
        self.val_loss_all.reset()
        logs["val/pearson"] = torch.stack(means).mean()
        return logs

    def on_validation_epoch_end(self) -> None:
        logs = self.validation_scores()
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            for organism, (total, weight) in self._global_train_sums().items():
                if weight > 0:
                    logs[f"train/{organism}/loss"] = total / weight
            self.train_sums = {}
        self.log("val/pearson", logs.pop("val/pearson"), prog_bar=True, sync_dist=True)
        self.log_dict(logs, sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        # No weight decay on biases and normalisation scales (1-d parameters); with a trunk LR ratio
        # below 1 (finetune: full) the trunk's parameters form groups of their own at the lower rate.
        ratio = float(self.finetune.get("trunk_lr_ratio") or 1.0)
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        trunk = {n for n, _ in named if ratio != 1.0 and not n.startswith("heads.")}
        groups = []
        for suffix, members, lr in (("", [x for x in named if x[0] not in trunk], self.optim.lr),
                                    ("_trunk", [x for x in named if x[0] in trunk], self.optim.lr * ratio)):
            decay = [p for _, p in members if p.ndim >= 2]
            no_decay = [p for _, p in members if p.ndim < 2]
            groups += [{"params": decay, "weight_decay": self.optim.weight_decay, "name": f"lr{suffix}", "lr": lr},
                       {"params": no_decay, "weight_decay": 0.0, "name": f"lr{suffix}_no_decay", "lr": lr}]
        groups = [g for g in groups if g["params"] or not g["name"].startswith("lr_trunk")]
        optimizer = torch.optim.AdamW(groups, lr=self.optim.lr, betas=self.optim.betas)
        total = self.trainer.max_steps if self.trainer.max_steps > 0 else int(self.trainer.estimated_stepping_batches)
        o = self.optim
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, o.warmup_steps, total, o.lr_schedule, o.min_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def init_output_bias(model: nn.Module, means: Mapping[str, np.ndarray]) -> list[str]:
    """Set each head's output bias so that softplus(bias) equals the track's mean target.

    Without this, Poisson training spends its first thousands of steps just moving each
    track's level from softplus(0) ≈ 0.69 to its mean (from ~0.1 for sparse CAGE to ~10 for
    DNase background). Works for models whose ``heads[organism]`` is a layer with a ``bias``
    of one value per track (as in :class:`enformer_lite.model.EnformerLite`); returns the
    organisms whose head was set.
    """
    heads = getattr(model, "heads", None)
    done = []
    for organism, mean in means.items():
        layer = heads[organism] if isinstance(heads, nn.ModuleDict) and organism in heads else None
        bias = getattr(layer, "bias", None)
        if not isinstance(bias, torch.Tensor) or bias.shape != (len(mean),):
            continue
        level = torch.as_tensor(np.maximum(np.asarray(mean, dtype=np.float64), 1e-4))
        with torch.no_grad():
            # inverse softplus, written to stay finite for large and small levels
            bias.copy_(level + torch.log(-torch.expm1(-level)))
        done.append(organism)
    return done
