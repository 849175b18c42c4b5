"""Typed settings for training, read from the ``train:`` config section or ``--params`` JSON.

Every dataclass here has a ``from_dict`` that rejects unknown keys with an
:class:`~enformer_lite.errors.InputError` naming the offending key, so a typo in
the config fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from enformer_lite.errors import InputError
from enformer_lite.sections import from_mapping


LOSSES = ("poisson", "poisson_multinomial")
SCHEDULES = ("cosine", "linear", "constant")
MONITORS = {"val_loss": ("val/loss", "min"), "val_pearson": ("val/pearson", "max")}
FINETUNE_MODES = ("none", "head", "linear", "lora", "full")
"""What is trained on a pretrained trunk (model.pretrained): nothing (score with the published heads), new
heads on cached embeddings, new heads on the fly (linear probe), LoRA adapters + heads, or everything."""
FINETUNE_KEYS = ("finetune", "trunk_lr_ratio", "keep_pretrained_heads", "exclude_pretrained_overlap", "lora")
"""Train keys that only matter with model.pretrained (left out of a scratch run's fingerprint)."""


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (never applied to validation or test data)."""

    reverse_complement: bool = True
    max_shift: int = 3

    def __post_init__(self) -> None:
        if self.max_shift < 0:
            raise InputError(f"config train.augment.max_shift: must be ≥ 0, got {self.max_shift}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> AugmentConfig:
        return from_mapping(cls, values, "train.augment")


PEAK_MODES = ("signal", "specific")


@dataclass(frozen=True)
class SubWindowConfig:
    """``train.sub_windows``: the first ``fraction`` of the training steps see random sub-windows of
    ``length`` bp cut from the stored windows (more steps per CPU-minute; local signal needs little
    context), the rest the full windows. Each sub-window is scored on its central ``target_length``
    bins (0: the same share of its bins as a full window's targets), which always lie inside the
    stored targets. Validation and everything after training use full windows. ``length: 0`` = off.

    ``peak_fraction`` of the sub-windows are centred on signal instead of placed uniformly: a track
    is drawn, then a centre bin with probability proportional to that track's signal above its
    median in the window (peak-centred sampling, as ChromBPNet trains on peaks), so that rare
    elements, such as one cell type's enhancers, are seen often within a short run.

    ``peak_mode`` says what "signal" is: ``signal`` (above) or ``specific``, where the track is drawn
    among the tracks of a specificity group (two or more tracks of one assay and strand, e.g. DNase
    of three cell types) and the weight is its excess over the group's mean in each bin, so that
    the centres are where the cell types differ rather than the peaks they share.

    ``peak_min_sd`` > 0 keeps only the bins whose excess is above that many SDs of the track's
    excess over the window's unmasked bins: without it, the many bins a little above the median
    (or the group mean) carry most of the weight and the centres are barely better than uniform.
    """

    length: int = 0
    fraction: float = 1.0
    target_length: int = 0
    peak_fraction: float = 0.0
    peak_mode: str = "signal"
    peak_min_sd: float = 0.0

    def __post_init__(self) -> None:
        if self.length < 0:
            raise InputError(f"config train.sub_windows.length: must be ≥ 0 (0 = off), got {self.length}")
        if not 0.0 < self.fraction <= 1.0:
            raise InputError(f"config train.sub_windows.fraction: must lie in (0, 1], got {self.fraction}")
        if self.target_length < 0:
            raise InputError(f"config train.sub_windows.target_length: must be ≥ 0, got {self.target_length}")
        if not 0.0 <= self.peak_fraction <= 1.0:
            raise InputError(f"config train.sub_windows.peak_fraction: must lie in [0, 1], got {self.peak_fraction}")
        if not self.peak_min_sd >= 0.0:
            raise InputError(f"config train.sub_windows.peak_min_sd: must be ≥ 0, got {self.peak_min_sd}")
        if self.peak_mode not in PEAK_MODES:
            raise InputError(f"config train.sub_windows.peak_mode: must be one of {', '.join(PEAK_MODES)}, "
                             f"got {self.peak_mode!r}")

    @property
    def enabled(self) -> bool:
        return self.length > 0

    def steps(self, max_steps: int) -> int:
        """Training steps (from the first) that use sub-windows."""
        return round(self.fraction * max_steps) if self.enabled else 0

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SubWindowConfig:
        return from_mapping(cls, values, "train.sub_windows")


@dataclass(frozen=True)
class LoraConfig:
    """LoRA adapters (peft) of ``train.finetune: lora`` on the attention projections and pointwise convolutions."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise InputError(f"config train.lora.rank: must be ≥ 1, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"config train.lora.dropout: must lie in [0, 1), got {self.dropout}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> LoraConfig:
        return from_mapping(cls, values, "train.lora")


@dataclass(frozen=True)
class OptimConfig:
    """Loss, optimiser (AdamW) and learning-rate schedule; stored in every checkpoint."""

    lr: float = 5e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    lr_schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    loss: str = "poisson"
    total_weight: float = 0.2
    specificity_weight: float = 0.0  # extra weight of the tracks' shares of their group (losses.group_share_loss)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise InputError(f"config train.loss: must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.lr_schedule not in SCHEDULES:
            raise InputError(f"config train.lr_schedule: must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}")
        if not self.lr > 0:
            raise InputError(f"config train.lr: must be > 0, got {self.lr}")
        if self.warmup_steps < 0:
            raise InputError(f"config train.warmup_steps: must be ≥ 0, got {self.warmup_steps}")
        if not self.specificity_weight >= 0.0:
            raise InputError(f"config train.specificity_weight: must be ≥ 0 (0 = off), got {self.specificity_weight}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise InputError(f"config train.min_lr_ratio: must lie in [0, 1], got {self.min_lr_ratio}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))


BF16_CPU_MIN_WINDOW = 8192
"""Shortest training window (bp) for which ``precision: auto`` picks bf16 on a CPU (see
:meth:`TrainerConfig.resolved_precision`)."""
COMPILE_MODES = ("auto", True, False)
"""``train.trainer.compile``: compile the model's trunk with torch.compile (inductor), or not, or ``auto``."""


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512-BF16 or AMX-BF16 in /proc/cpuinfo, and
    oneDNN's bf16 path available); elsewhere bf16 is emulated in float32 and slower than plain float32."""
    import torch

    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except (OSError, AttributeError, RuntimeError):  # not Linux, or a torch without oneDNN
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass(frozen=True)
class TrainerConfig:
    """Hardware and parallelism; these never change what is learnt, only where and how fast."""

    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "auto"
    compile: bool | str = "auto"

    def __post_init__(self) -> None:
        value = self.compile
        if isinstance(value, str) and value.lower() in ("true", "false", "auto"):
            value = {"true": True, "false": False, "auto": "auto"}[value.lower()]
        if value not in COMPILE_MODES or (not isinstance(value, bool) and value != "auto"):
            raise InputError(f"config train.trainer.compile: must be auto, true or false, got {self.compile!r}")
        object.__setattr__(self, "compile", value)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> TrainerConfig:
        return from_mapping(cls, values, "train.trainer")

    def _on_gpu(self) -> bool:
        import torch

        return self.accelerator in ("gpu", "cuda") or (self.accelerator == "auto" and torch.cuda.is_available())

    def resolved_precision(self, window_length: int | None = None) -> str:
        """The Lightning precision; ``auto`` resolves by this rule:

        * on a GPU: ``bf16-mixed``;
        * on a CPU that multiplies bfloat16 in hardware (AVX-512-BF16 or AMX-BF16,
          :func:`cpu_has_native_bf16`) and training windows of at least :data:`BF16_CPU_MIN_WINDOW`
          bp (or an unknown ``window_length``): ``bf16-mixed``. On such a CPU (AVX-512-BF16, 2 threads)
          ``bench/model.py`` measured the lite training step at 196,608 bp 1.27x faster under bf16
          autocast than in float32 (1.14 against 1.45 s) with 44 % fewer bytes kept for backward,
          full-size inference 2.5x faster, the lite step at 8,192-65,536 bp 1.4-1.9x faster, and
          ``bench/precision.py`` the same loss curve (bench/README.md, "Model");
        * shorter windows on such a CPU, and any other CPU: ``32-true``. Short windows are slower in
          bf16 (per-op casts outweigh the faster products: the tiny model at 2,048 bp took 1.37x,
          at 256 bp 2.4x the float32 time), and elsewhere bf16 is emulated and slower than float32.

        Under ``bf16-mixed`` Lightning autocasts the training step; the hand-written kernels then run
        their products in bf16 and keep BatchNorm statistics and the attention softmax in float32.
        """
        if self.precision != "auto":
            return self.precision
        if self._on_gpu():
            return "bf16-mixed"
        long_enough = window_length is None or window_length >= BF16_CPU_MIN_WINDOW
        return "bf16-mixed" if long_enough and cpu_has_native_bf16() else "32-true"

    def resolved_compile(self) -> bool:
        """Whether to compile the trunk (:func:`enformer_lite.model.network.compile_trunk`); ``auto``
        resolves to False everywhere: on this project's CPU (2 threads, AVX-512-BF16) ``bench/model.py``
        measured the compiled lite training step slower than eager (1.68 against 1.14 s in bf16, after
        74 s of compilation; 23 graph breaks, and the BatchNorm momentum, a Python float that changes
        every step, makes dynamo recompile up to its limit), and no GPU figure has been recorded yet."""
        return self.compile is True


_OPTIM_KEYS = {f.name for f in dataclasses.fields(OptimConfig)}


@dataclass(frozen=True)
class TrainConfig:
    """The ``train:`` section: batches, steps, checkpoints, logging plus optimiser and trainer.

    ``init_output_bias`` starts each track's prediction at its mean training target
    (see :func:`enformer_lite.training.module.init_output_bias`). The fine-tuning keys
    (:data:`FINETUNE_KEYS`) apply only with ``model.pretrained`` (see :mod:`enformer_lite.training.finetune`):
    ``trunk_lr_ratio`` scales the trunk's learning rate in ``finetune: full``; ``keep_pretrained_heads``
    carries the published heads (as ``published_<head>``) into the checkpoint; ``exclude_pretrained_overlap``
    drops valid/test windows that overlap ``model.pretrained_regions``.
    """

    batch_size: int = 4
    max_steps: int = 1000
    val_check_interval: int = 200
    limit_val_batches: int | float = 1.0
    checkpoint_every_n_steps: int = 50
    monitor: str = "val_pearson"
    gradient_clip: float = 0.2
    num_workers: int = 0
    seed: int = 42
    init_output_bias: bool = True
    log_every_n_steps: int = 10
    log_per_track: bool = True
    progress_bar: bool = True
    finetune: str | None = None
    trunk_lr_ratio: float = 0.1
    keep_pretrained_heads: bool = True
    exclude_pretrained_overlap: bool = True
    lora: LoraConfig = field(default_factory=LoraConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    sub_windows: SubWindowConfig = field(default_factory=SubWindowConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_steps", "val_check_interval", "checkpoint_every_n_steps", "log_every_n_steps"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"config train.{name}: must be ≥ 1, got {getattr(self, name)}")
        if self.max_steps > self.val_check_interval and self.max_steps % self.val_check_interval:
            raise InputError(
                f"config train.max_steps: {self.max_steps} must be a multiple of train.val_check_interval "
                f"({self.val_check_interval}) so that the final weights are validated"
            )
        if self.monitor not in MONITORS:
            raise InputError(f"config train.monitor: must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        if self.num_workers < 0:
            raise InputError(f"config train.num_workers: must be ≥ 0, got {self.num_workers}")
        if self.finetune is not None and self.finetune not in FINETUNE_MODES:
            raise InputError(f"config train.finetune: must be one of {', '.join(FINETUNE_MODES)}, got {self.finetune!r}")
        if not 0.0 < self.trunk_lr_ratio <= 1.0:
            raise InputError(f"config train.trunk_lr_ratio: must lie in (0, 1], got {self.trunk_lr_ratio}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> TrainConfig:
        """Build from the flat ``train:`` mapping (optimiser keys sit beside the others)."""
        values = dict(values or {})
        optim = {k: values.pop(k) for k in list(values) if k in _OPTIM_KEYS}
        augment = AugmentConfig.from_dict(values.pop("augment", None))
        trainer = TrainerConfig.from_dict(values.pop("trainer", None))
        values["lora"] = LoraConfig.from_dict(values.pop("lora", None))
        values["sub_windows"] = SubWindowConfig.from_dict(values.pop("sub_windows", None))
        for key in ("optim", "resources"):
            values.pop(key, None)
        return from_mapping(cls, {**values, "augment": augment, "trainer": trainer, "optim": OptimConfig(**optim)}, "train")

    def to_dict(self) -> dict[str, Any]:
        """Flat mapping accepted by :meth:`from_dict`."""
        out = dataclasses.asdict(self)
        out.update(out.pop("optim"))
        out["betas"] = list(out["betas"])
        return out

    def learning_fingerprint(self) -> dict[str, Any]:
        """Settings that change what is learnt (everything except hardware, logging and workers)."""
        out = self.to_dict()
        for key in ("trainer", "num_workers", "log_every_n_steps", "log_per_track", "progress_bar", "checkpoint_every_n_steps"):
            out.pop(key)
        if not self.sub_windows.enabled:  # off: runs started before the key existed still resume
            out.pop("sub_windows")
        else:
            if not self.sub_windows.peak_fraction:
                out["sub_windows"].pop("peak_fraction")
            # runs started before these keys existed still resume
            if not self.sub_windows.peak_fraction or self.sub_windows.peak_mode == "signal":
                out["sub_windows"].pop("peak_mode")
            if not self.sub_windows.peak_fraction or not self.sub_windows.peak_min_sd:
                out["sub_windows"].pop("peak_min_sd")
        if not self.optim.specificity_weight:
            out.pop("specificity_weight")
        return out
