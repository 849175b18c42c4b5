"""Fit the model on one ``data.h5`` per organism (``enformer-lite train``).

Outputs in ``--outdir`` (written only when training has finished):
``best.ckpt`` (best validation score), ``last.ckpt`` (final step) and
``metrics.csv`` (Lightning's CSV log, all attempts merged).

Live state sits in ``<outdir>/run/``: Lightning's checkpoints in
``checkpoints/`` (``last.ckpt`` every ``checkpoint_every_n_steps`` steps,
``best.ckpt`` at each validation), the per-attempt CSV logs in ``logs/`` and
``fingerprint.json``. When a killed run is started again with the same data and
learning settings, it resumes from ``run/checkpoints/last.ckpt`` and continues
the global step; with different settings it starts afresh. Workflow managers
that delete the declared outputs of a failed job never touch ``run/``.

A resumed run is the uninterrupted run: checkpoints hold the data position (the
data module's count of trained batches, which the sampler turns into epoch and
batch), the random number generators and the running per-organism training-loss
sums, and are taken only at complete steps (after a due validation), so killing
and resuming, any number of times, gives the same weights and metrics (see
:mod:`enformer_lite.training.resume`). Lightning sees the whole run as one epoch
(the ``epoch`` column of ``metrics.csv`` stays 0); data epochs live in the sampler. Only one training runs in an output
directory at a time (``run/train.lock``); temporary files that a killed attempt
left are removed when the next one starts.

With ``model.pretrained`` the trunk comes from a pretrained model and ``train.finetune`` says what is
trained on top of it (:mod:`enformer_lite.training.finetune`); ``finetune: head`` reads cached trunk
embeddings (``embeddings``, one ``embeddings.h5`` per organism). With ``model.pretrained_regions``
the overlapping valid/test windows are listed in ``pretrained_overlap.tsv`` (published with the
checkpoints) and left out (:mod:`enformer_lite.training.leakage`).

Several organisms: each step trains on one organism's batch (organisms take
turns), so with DDP the strategy is switched to its ``find_unused_parameters``
variant (the other heads get no gradient on that step).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import signal
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.inference.published import PRETRAINED_KEYS, PretrainedSource
from enformer_lite.training.config import FINETUNE_KEYS, MONITORS, AugmentConfig, TrainConfig
from enformer_lite.training.embeddings import check_embeddings
from enformer_lite.training.finetune import FinetuneSetup, finetune_model, merged_lora_state
from enformer_lite.training.leakage import COLUMNS as OVERLAP_COLUMNS, overlapping_windows
from enformer_lite.training.data import EnformerDataModule
from enformer_lite.data.h5 import H5Meta, split_indices
from enformer_lite.training.dataset import target_means
from enformer_lite.inference.checkpoint import ModelBuilder
from enformer_lite.training.module import EnformerModule, init_output_bias
from enformer_lite.training.resume import (
    LOCK, AtomicCheckpointIO, CheckpointOnStop, RandomState, ResumeCheckpoint, remove_stale_temporaries, run_lock,
)

log = logging.getLogger(__name__)

RUN_DIR = "run"
CHECKPOINTS = "checkpoints"
FINGERPRINT = "fingerprint.json"
PUBLISHED = ("best.ckpt", "last.ckpt", "metrics.csv")
OVERLAP = "pretrained_overlap.tsv"


def model_from_params(
    model_params: Mapping[str, Any], metas: Mapping[str, H5Meta], builder: ModelBuilder | None = None
) -> tuple[Any, dict[str, Any]]:
    """Build the network for these data; returns ``(model, config_dict)``.

    By default ``model_params`` are ``preset`` (default ``lite``) plus any
    :class:`enformer_lite.model.ModelConfig` field overrides (``None`` keeps the
    preset's value); heads (one per organism, sized by its tracks) and
    ``target_length`` come from the data.
    With ``builder``, the config dict is ``model_params`` plus ``heads``,
    ``target_length`` and ``bin_size`` and is passed to ``builder``.
    """
    heads = {name: meta.n_tracks for name, meta in metas.items()}
    first = next(iter(metas.values()))
    if builder is not None:
        config = {**model_params, "heads": heads, "target_length": first.target_length, "bin_size": first.bin_size}
        return builder(config), config
    from enformer_lite.model import ModelConfig, build_model

    params = {key: value for key, value in model_params.items() if value is not None}  # None: preset's value
    preset = params.pop("preset", "lite")
    try:
        cfg = ModelConfig.from_preset(preset, heads=heads, target_length=first.target_length, **params)
    except (TypeError, ValueError) as err:
        raise InputError(f"config model: {err}") from err
    if cfg.bin_size != first.bin_size:
        raise InputError(
            f"{first.path}: bin_size {first.bin_size} bp, but the model config pools to {cfg.bin_size} bp bins "
            f"(num_conv_tower={cfg.num_conv_tower}); set model.num_conv_tower to log2(bin_size) - 1"
        )
    return build_model(cfg), cfg.to_dict()


def check_finetune(source: PretrainedSource | None, cfg: TrainConfig, data: Mapping[str, Any],
                   embeddings: Mapping[str, Any] | None) -> None:
    """The fine-tuning mode must fit the model section (InputError names the key)."""
    if source is None and cfg.finetune not in (None, "full"):
        raise InputError(f"config train.finetune: {cfg.finetune!r} needs model.pretrained (a pretrained trunk)")
    if source is not None and cfg.finetune in (None, "none"):
        raise InputError(f"config train.finetune: {cfg.finetune or 'unset'} with model.pretrained trains nothing; the "
                         f"published heads are used as they are (enformer-lite use-pretrained writes their checkpoint); "
                         f"choose head, linear, lora or full to fine-tune")
    if source is not None and cfg.finetune == "head" and cfg.sub_windows.enabled:
        raise InputError("config train.sub_windows: finetune: head trains on cached full-window embeddings; set "
                         "train.sub_windows.length: 0")
    if source is not None and cfg.finetune == "head":
        missing = sorted(set(data) - set(embeddings or {}))
        if missing:
            raise InputError(f"finetune: head trains on cached trunk embeddings; none given for {missing[0]!r} "
                             f"(--embeddings {missing[0]}=embeddings.h5, made by enformer-lite embed)")


def leakage_table(source: PretrainedSource | None, data: Mapping[str, str | Path]) -> pd.DataFrame | None:
    """Valid/test windows overlapping ``model.pretrained_regions`` (empty table without regions; None from scratch)."""
    if source is None:
        return None
    if not source.regions:
        return pd.DataFrame(columns=OVERLAP_COLUMNS)
    return pd.concat([overlapping_windows(path, source.regions, name) for name, path in data.items()], ignore_index=True)


def run_fingerprint(metas: Mapping[str, H5Meta], model_params: Mapping[str, Any], cfg: TrainConfig) -> str:
    """Hash of everything that decides what is learnt; a run only resumes when it matches."""
    model, learning = dict(model_params), cfg.learning_fingerprint()
    if not model.get("pretrained"):  # pretrained and fine-tuning keys change nothing in a run from scratch
        model = {k: v for k, v in model.items() if k not in PRETRAINED_KEYS}
        learning = {k: v for k, v in learning.items() if k not in FINETUNE_KEYS}
    payload = {
        "data": {name: [meta.fingerprint or meta.path, meta.n_windows] for name, meta in metas.items()},
        "model": model,
        "train": learning,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def prepare_run_dir(run_dir: Path, fingerprint: str) -> Path | None:
    """Return the checkpoint to resume from, or None; clears a run made with other settings."""
    stamp = run_dir / FINGERPRINT
    last = run_dir / CHECKPOINTS / "last.ckpt"
    previous = json.loads(stamp.read_text()).get("fingerprint") if stamp.is_file() else None
    if previous == fingerprint and last.is_file():
        log.info("resuming from %s", last)
        return last
    if rank_zero_only.rank == 0:
        if previous is not None and previous != fingerprint:
            log.info("%s holds a run with other data or settings; starting afresh", run_dir)
        shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
        shutil.rmtree(run_dir / "logs", ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_output(stamp) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint}))
    return None


def merge_metrics(logs_dir: Path) -> pd.DataFrame:
    """Concatenate the CSV logs of successive attempts (``version_0``, ``version_1``, ...).

    A resumed attempt restarts at its checkpoint's step, so rows that an earlier
    attempt logged at or after that step (work lost with the crash) are dropped.
    """
    frames: list[pd.DataFrame] = []
    versions = sorted(logs_dir.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    for path in versions:
        frame = pd.read_csv(path)
        if frame.empty:
            continue
        first_step = frame["step"].min()
        frames = [f[f["step"] < first_step] for f in frames]
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["step"])
    merged = pd.concat(frames, ignore_index=True)
    return merged[sorted(merged.columns)]  # Lightning's column order, whichever attempt logged a column first


def merge_lora_checkpoint(source: Path, out: Path, fresh: FinetuneSetup) -> None:
    """Write checkpoint ``source`` (trained LoRA adapters) to ``out`` with the adapters merged into a plain
    model's weights, so every later stage opens it; the optimiser state (of the adapters) is left out."""
    import torch

    from enformer_lite.model.checkpoint import load_torch_file

    blob = load_torch_file(source)
    fresh.model.load_state_dict({k[len("model."):]: v for k, v in blob["state_dict"].items() if k.startswith("model.")})
    blob["state_dict"] = {f"model.{k}": v for k, v in merged_lora_state(fresh.model).items()}
    blob["hyper_parameters"]["finetune"] = {**blob["hyper_parameters"].get("finetune", {}), "merged": True}
    for key in ("optimizer_states", "lr_schedulers"):
        blob.pop(key, None)
    torch.save(blob, out)


def publish(run_dir: Path, outdir: Path, fresh_lora: FinetuneSetup | None = None, overlap: pd.DataFrame | None = None) -> None:
    """Copy the finished run's checkpoints and merged metrics to ``outdir`` atomically (LoRA adapters
    merged when ``fresh_lora``, an untrained copy of the adapted model, is given; the leakage table when given)."""
    for name in PUBLISHED[:2]:
        with atomic_output(outdir / name) as tmp:
            if fresh_lora is None:
                shutil.copyfile(run_dir / CHECKPOINTS / name, tmp)
            else:
                merge_lora_checkpoint(run_dir / CHECKPOINTS / name, tmp, fresh_lora)
    if overlap is not None:
        with atomic_output(outdir / OVERLAP) as tmp:
            overlap.to_csv(tmp, sep="\t", index=False)
    metrics = merge_metrics(run_dir / "logs")
    with atomic_output(outdir / "metrics.csv") as tmp:
        metrics.to_csv(tmp, index=False)


def build_trainer(
    cfg: TrainConfig, run_dir: Path, n_organisms: int, callbacks: Sequence[Callback] = (),
    window_length: int | None = None,
) -> L.Trainer:
    """Lightning Trainer with the resume and best checkpoints, CSV log and progress bar of a run
    (``window_length``, the shortest training window, informs ``precision: auto``)."""
    monitor, mode = MONITORS[cfg.monitor]
    best = ModelCheckpoint(
        dirpath=run_dir / CHECKPOINTS, filename="best", monitor=monitor, mode=mode, save_top_k=1,
        auto_insert_metric_name=False, enable_version_counter=False,
    )
    resume = run_dir / CHECKPOINTS / "last.ckpt"
    all_callbacks: list[Callback] = [
        # Checkpoint callbacks run last, in this order: the resume checkpoints after best.ckpt.
        best, ResumeCheckpoint(resume, cfg.checkpoint_every_n_steps), CheckpointOnStop(resume),
        LearningRateMonitor(logging_interval="step"), RandomState(), *callbacks,
    ]
    if cfg.progress_bar:
        all_callbacks.append(TQDMProgressBar(refresh_rate=cfg.log_every_n_steps))
    hw = cfg.trainer
    strategy = hw.strategy
    if strategy in ("ddp", "ddp_spawn") and n_organisms > 1:
        # Each step trains one organism's head, so the other heads get no gradient on that step.
        strategy = f"{strategy}_find_unused_parameters_true"
    return L.Trainer(
        accelerator=hw.accelerator,
        devices=hw.devices,
        strategy=strategy,
        num_nodes=hw.num_nodes,
        precision=hw.resolved_precision(window_length),
        max_steps=cfg.max_steps,
        max_epochs=-1,
        # Validation every val_check_interval steps counted across epochs (an epoch is one pass
        # over the largest organism's training windows).
        val_check_interval=min(cfg.val_check_interval, cfg.max_steps),
        check_val_every_n_epoch=None,
        limit_val_batches=1.0,  # the data module validates on a fixed sample spread over the split
        num_sanity_val_steps=0,
        gradient_clip_val=cfg.gradient_clip or None,
        gradient_clip_algorithm="norm",
        logger=CSVLogger(run_dir, name="logs"),
        callbacks=all_callbacks,
        log_every_n_steps=cfg.log_every_n_steps,
        enable_progress_bar=cfg.progress_bar,
        use_distributed_sampler=False,  # AlternatingBatchSampler shares the data out across ranks itself
        default_root_dir=run_dir,
        plugins=[AtomicCheckpointIO()],
    )


def train(
    data: Mapping[str, str | Path],
    outdir: str | Path,
    model_params: Mapping[str, Any] | None = None,
    cfg: TrainConfig | None = None,
    callbacks: Sequence[Callback] = (),
    builder: ModelBuilder | None = None,
    embeddings: Mapping[str, str | Path] | None = None,
) -> Path:
    """Train (or resume) and publish ``best.ckpt``, ``last.ckpt``, ``metrics.csv``; returns ``outdir``.

    ``data`` maps organism (= model head) to its ``data.h5``. ``callbacks`` are
    extra Lightning callbacks; ``builder`` replaces the default model builder;
    ``embeddings`` (organism → ``embeddings.h5``) feeds ``finetune: head``.
    """
    cfg = cfg or TrainConfig()
    model_params = dict(model_params or {})
    source, arch_params = PretrainedSource.from_model_params(model_params)
    check_finetune(source, cfg, data, embeddings)
    outdir = Path(outdir)
    run_dir = outdir / RUN_DIR
    head_mode = source is not None and cfg.finetune == "head"
    overlap = leakage_table(source, data)
    exclude = ({name: overlap.loc[overlap["genome"] == name, "row"].to_numpy() for name in data}
               if overlap is not None and cfg.exclude_pretrained_overlap else {})
    datamodule = EnformerDataModule(
        data, batch_size=cfg.batch_size, num_workers=cfg.num_workers,
        augment=AugmentConfig(reverse_complement=False, max_shift=0) if head_mode else cfg.augment, seed=cfg.seed,
        val_limit=cfg.limit_val_batches, embeddings=embeddings if head_mode else None, exclude=exclude,
        sub_windows=cfg.sub_windows,
    )
    metas = datamodule.prepare_metas()
    datamodule.sub_window_geometry()  # a bad train.sub_windows stops here, before any model is built
    if not any(len(split_indices(meta.path, "valid")) for meta in metas.values()):
        raise InputError(f"no windows with split 'valid' in {', '.join(m.path for m in metas.values())}")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    setup = finetune_model(source, metas, cfg) if source is not None else None
    if setup is not None:
        model, model_config = setup.model, setup.model_config
    else:
        model, model_config = model_from_params(arch_params, metas, builder)
    if head_mode:
        assert source is not None and embeddings is not None
        for name, meta in metas.items():
            check_embeddings(embeddings[name], meta, 2 * int(model_config["channels"]), source.path)
    if cfg.init_output_bias:
        means = {name: target_means(meta, split_indices(meta.path, "train")) for name, meta in metas.items()}
        initialised = init_output_bias(model, means)
        log.info("output bias set to the mean training target for head(s): %s", ", ".join(initialised) or "none")
    if cfg.trainer.resolved_compile():
        from enformer_lite.model.network import EnformerLite, compile_trunk

        if isinstance(model, EnformerLite):  # training and validation steps run the compiled trunk
            log.info("torch.compile of the trunk: %s", "on" if compile_trunk(model) else "failed, eager")
    data_meta = {name: meta.to_dict() for name, meta in metas.items()}
    for name, rows in exclude.items():
        data_meta[name]["excluded_rows"] = sorted(int(r) for r in rows)
    module = EnformerModule(
        model,
        model_config,
        track_ids={name: [t.id for t in meta.tracks] for name, meta in metas.items()},
        optim=cfg.optim,
        data_meta={**(setup.published_meta if setup else {}), **data_meta},
        log_per_track=cfg.log_per_track,
        finetune=setup.settings if setup else None,
        published_track_ids=setup.published_track_ids if setup else None,
    )
    # One training per output directory; only global rank 0 (the process the user started) takes the lock.
    lock = run_lock(outdir, run_dir / LOCK) if rank_zero_only.rank == 0 else contextlib.nullcontext()
    with lock:
        if rank_zero_only.rank == 0:
            remove_stale_temporaries(outdir, PUBLISHED)
            remove_stale_temporaries(run_dir, {FINGERPRINT})
            remove_stale_temporaries(run_dir / CHECKPOINTS)
        resume = prepare_run_dir(run_dir, run_fingerprint(metas, model_params, cfg))
        shortest = min(m.window_length for m in metas.values())
        if cfg.sub_windows.enabled:
            shortest = min(shortest, cfg.sub_windows.length)
        trainer = build_trainer(cfg, run_dir, len(metas), callbacks, shortest)
        try:
            with warnings.catch_warnings():
                # Lightning cannot see that the data module restores the position (it is not the loader's state).
                warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch")
                trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
        except SIGTERMException as stop:
            raise SystemExit(128 + signal.SIGTERM) from stop  # a stopped run is not a finished one
        # The periodic checkpoint may predate the last step; this one is what a rerun resumes from.
        trainer.save_checkpoint(run_dir / CHECKPOINTS / "last.ckpt")
        if trainer.is_global_zero:
            if not (run_dir / CHECKPOINTS / "best.ckpt").is_file():
                raise RuntimeError(f"{run_dir}: training ended without a validation checkpoint (best.ckpt)")
            fresh = finetune_model(source, metas, cfg) if source is not None and cfg.finetune == "lora" else None
            publish(run_dir, outdir, fresh, overlap)
            log.info("finished at step %d; wrote %s", trainer.global_step, outdir)
    return outdir
