"""Fine-tuning a pretrained trunk: new heads for the user's tracks (``train.finetune``).

The pretrained model (``model.pretrained``, see :mod:`enformer_lite.inference.published`) gives the
trunk; each genome of the training data gets a new head (``Linear(2C → T_genome)`` + softplus), and
with ``train.keep_pretrained_heads`` the published heads ride along as ``published_<head>``, frozen.
What is trained:

=========  ===========================================================================================
``head``   the new heads only, on trunk embeddings computed once per window and cached next to
           ``data.h5`` (``embeddings.h5``, :mod:`enformer_lite.training.embeddings`); no augmentation
``linear`` the new heads only (a linear probe of the trunk embedding), with the frozen trunk run on
           the fly, so reverse-complement and shift augmentation apply; slower than ``head``
``lora``   LoRA adapters (peft) on the attention projections (q, k, v, out) and every pointwise
           convolution (stem, tower, final), plus the new heads; BatchNorm statistics stay frozen;
           the published checkpoints hold the adapters merged into the weights (a plain model)
``full``   everything, the trunk at ``train.trunk_lr_ratio`` × ``train.lr``
=========  ===========================================================================================

A frozen trunk is also kept in eval mode (BatchNorm running statistics, dropout off).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from enformer_lite.data.h5 import H5Meta
from enformer_lite.errors import InputError
from enformer_lite.inference.published import (
    PUBLISHED_PREFIX, PretrainedSource, check_geometry, published_summary, published_tables, rename_heads,
)
from enformer_lite.model.network import build_model
from enformer_lite.training.config import LoraConfig, TrainConfig

log = logging.getLogger(__name__)

LORA_TARGETS = r".*(attn\.(to_q|to_k|to_v|to_out)|pointwise\.block\.conv|final\.conv)"
"""Modules that get LoRA adapters: attention projections and pointwise (k=1) convolutions."""
TRAINED_MODES = ("head", "linear", "lora", "full")


@dataclass
class FinetuneSetup:
    """A model ready to fine-tune, with what the checkpoint must say about it.

    Attributes:
        model: the network (new heads drawn fresh, trunk and kept heads pretrained; LoRA injected).
        model_config: ``ModelConfig.to_dict()`` of the plain (unadapted) network.
        published_track_ids: kept published head → track ids.
        published_meta: kept published head → ``data_meta`` entry (tracks table, geometry).
        settings: the ``finetune`` hyperparameters (mode, trunk LR ratio, LoRA settings, source).
    """

    model: nn.Module
    model_config: dict[str, Any]
    published_track_ids: dict[str, list[str]]
    published_meta: dict[str, dict[str, Any]]
    settings: dict[str, Any]


def add_lora(model: nn.Module, cfg: LoraConfig) -> nn.Module:
    """Inject LoRA adapters (peft) into :data:`LORA_TARGETS` in place; only adapters stay trainable."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import inject_adapter_in_model

    config = PeftLoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=LORA_TARGETS)
    return inject_adapter_in_model(config, model)


def merged_lora_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` with its LoRA adapters merged, under the plain model's names."""
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer):
            module.merge()
    return {k.replace(".base_layer.", "."): v for k, v in model.state_dict().items() if "lora_" not in k}


def finetune_model(source: PretrainedSource, metas: Mapping[str, H5Meta], cfg: TrainConfig) -> FinetuneSetup:
    """The pretrained trunk with a new head per genome of ``metas``, frozen and adapted as ``cfg.finetune`` says."""
    mode = cfg.finetune or "none"
    if mode not in TRAINED_MODES:
        raise InputError(f"config train.finetune: {mode!r} trains nothing; the workflow uses the published heads")
    first = next(iter(metas.values()))
    pretrained = source.read(first.target_length)
    for meta in metas.values():
        check_geometry(pretrained, meta, source.path)
    tables = published_tables(source, pretrained) if cfg.keep_pretrained_heads else {}
    kept = {PUBLISHED_PREFIX + head: head for head in tables}
    clash = sorted(set(kept) & set(metas))
    if clash:
        raise InputError(f"config genomes: {clash[0]!r} is the name of a kept published head; rename the genome")
    heads = {name: meta.n_tracks for name, meta in metas.items()}
    heads.update({name: pretrained.config.heads[head] for name, head in kept.items()})
    model_cfg = dataclasses.replace(pretrained.config, heads=heads)
    model = build_model(model_cfg)
    missing, unexpected = model.load_state_dict(rename_heads(pretrained.state_dict, kept), strict=False)
    new = {f"heads.{name}.{part}" for name in metas for part in ("weight", "bias")}
    if set(missing) - new or unexpected:
        raise InputError(f"config model.pretrained: {source.path} does not fit the model ({sorted(set(missing) - new)[:3]}"
                         f" missing, {unexpected[:3]} unexpected)")
    trainable_trunk = mode == "full"
    for name, param in model.named_parameters():
        param.requires_grad_(name in new or trainable_trunk and not name.startswith("heads."))
    if mode == "lora":
        add_lora(model, cfg.lora)
        for name, param in model.named_parameters():
            if name in new:
                param.requires_grad_(True)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("fine-tuning (%s) %s: %d of %d parameters trained; new heads %s; kept %s", mode, pretrained.source,
             n_train, sum(p.numel() for p in model.parameters()), ", ".join(metas), ", ".join(kept) or "none")
    settings = {"mode": mode, "trunk_lr_ratio": cfg.trunk_lr_ratio if mode == "full" else 1.0,
                "lora": dataclasses.asdict(cfg.lora) if mode == "lora" else None, "source": source.path}
    return FinetuneSetup(
        model, model_cfg.to_dict(),
        {name: [t.id for t in tables[head]] for name, head in kept.items()},
        {name: published_summary(tables[head], first, head, source.path) for name, head in kept.items()},
        settings,
    )

