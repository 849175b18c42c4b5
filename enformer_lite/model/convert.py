"""Convert a state dict of ``enformer_pytorch.Enformer`` (0.8.x) into :class:`EnformerLite` weights.

The published Enformer weights circulate as such state dicts (e.g. ``pytorch_model.bin`` of a
Hugging Face model repository). Architecture sizes (channels, heads, key size, layer counts,
tower widths, output heads) are read from the tensors' shapes; everything else (dropouts,
target length, gamma variant) comes from the base config. The converted model is written by
:func:`enformer_lite.model.save_model` as ``{"model_config": ..., "state_dict": ...}``.

Positional features: the published weights were trained with the TensorFlow definition, so the
default ``positional_gamma="tf"`` is right for them at any length; a model trained with
enformer-pytorch's own gamma features (its default, ``use_tf_gamma=False``) should be converted
with ``positional_gamma="enformer_pytorch"``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import torch

from enformer_lite.errors import InputError
from enformer_lite.model.config import ModelConfig, exponential_linspace_int
from enformer_lite.model.network import build_model

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_WB = r"(weight|bias)"

# (source pattern, target template); groups are substituted in order.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), t)
    for p, t in [
        (rf"stem\.0\.{_WB}", r"stem.conv.\1"),
        (rf"stem\.1\.fn\.0\.{_BN}", r"stem.pointwise.block.norm.\1"),
        (rf"stem\.1\.fn\.2\.{_WB}", r"stem.pointwise.block.conv.\1"),
        (r"stem\.2\.to_attn_logits\.weight", r"stem.pool.logits.weight"),
        (rf"conv_tower\.(\d+)\.0\.0\.{_BN}", r"tower.\1.conv.norm.\2"),
        (rf"conv_tower\.(\d+)\.0\.2\.{_WB}", r"tower.\1.conv.conv.\2"),
        (rf"conv_tower\.(\d+)\.1\.fn\.0\.{_BN}", r"tower.\1.pointwise.block.norm.\2"),
        (rf"conv_tower\.(\d+)\.1\.fn\.2\.{_WB}", r"tower.\1.pointwise.block.conv.\2"),
        (r"conv_tower\.(\d+)\.2\.to_attn_logits\.weight", r"tower.\1.pool.logits.weight"),
        (rf"transformer\.(\d+)\.0\.fn\.0\.{_WB}", r"transformer.\1.attn_norm.\2"),
        (r"transformer\.(\d+)\.0\.fn\.1\.(to_q|to_k|to_v|to_rel_k)\.weight", r"transformer.\1.attn.\2.weight"),
        (rf"transformer\.(\d+)\.0\.fn\.1\.to_out\.{_WB}", r"transformer.\1.attn.to_out.\2"),
        (r"transformer\.(\d+)\.0\.fn\.1\.rel_content_bias", r"transformer.\1.attn.content_bias"),
        (r"transformer\.(\d+)\.0\.fn\.1\.rel_pos_bias", r"transformer.\1.attn.position_bias"),
        (rf"transformer\.(\d+)\.1\.fn\.0\.{_WB}", r"transformer.\1.mlp_norm.\2"),
        (rf"transformer\.(\d+)\.1\.fn\.1\.{_WB}", r"transformer.\1.mlp_in.\2"),
        (rf"transformer\.(\d+)\.1\.fn\.4\.{_WB}", r"transformer.\1.mlp_out.\2"),
        (rf"final_pointwise\.1\.0\.{_BN}", r"final.norm.\1"),
        (rf"final_pointwise\.1\.2\.{_WB}", r"final.conv.\1"),
        (rf"_heads\.(\w+)\.0\.{_WB}", r"heads.\1.\2"),
    ]
]

# enformer-pytorch registers the trunk twice: as named submodules and inside ``_trunk``.
_TRUNK_ALIASES = {"1": "stem", "2": "conv_tower", "4": "transformer", "6": "final_pointwise"}
_TRUNK_ALIAS = re.compile(r"_trunk\.(\d+)\.(.*)")


class ConversionError(InputError):
    """The source state dict does not fit the expected enformer-pytorch layout or the config."""


def _canonical_keys(source: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip a DataParallel/HF prefix and fold ``_trunk.N.*`` aliases into their canonical names."""
    keys = list(source)
    for prefix in ("module.", "enformer."):
        if keys and all(k.startswith(prefix) for k in keys):
            source = {k[len(prefix) :]: v for k, v in source.items()}
    out: dict[str, torch.Tensor] = {}
    aliases: dict[str, tuple[str, torch.Tensor]] = {}
    for key, value in source.items():
        if not isinstance(value, torch.Tensor):
            raise ConversionError(f"key {key!r}: expected a tensor, found {type(value).__name__}")
        match = _TRUNK_ALIAS.fullmatch(key)
        if match and match.group(1) in _TRUNK_ALIASES:
            aliases[f"{_TRUNK_ALIASES[match.group(1)]}.{match.group(2)}"] = (key, value)
        else:
            out[key] = value
    for name, (alias, value) in aliases.items():
        if name not in out:
            out[name] = value
        elif out[name].shape != value.shape or not torch.equal(out[name], value):
            raise ConversionError(f"key {alias!r} differs from its alias {name!r}; the state dict is inconsistent")
    return out


def _map_key(key: str) -> str:
    for pattern, template in _RULES:
        if pattern.fullmatch(key):
            return pattern.sub(template, key)
    raise ConversionError(f"unexpected key {key!r}: not part of an enformer_pytorch.Enformer state dict")


def _count(keys: list[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.fullmatch(pattern, k))}
    if found != set(range(len(found))):
        raise ConversionError(f"blocks matching {pattern!r} are not numbered 0..n-1: {sorted(found)}")
    return len(found)


def infer_config(source: Mapping[str, torch.Tensor], base: ModelConfig) -> ModelConfig:
    """``base`` with the architecture sizes read from an enformer-pytorch state dict."""
    sd = _canonical_keys(source)
    keys = list(sd)

    def need(key: str) -> torch.Tensor:
        if key not in sd:
            raise ConversionError(f"missing key {key!r} in the source state dict")
        return sd[key]

    channels = need("final_pointwise.1.2.weight").shape[1]
    n_tower = _count(keys, r"conv_tower\.(\d+)\.0\.2\.weight")
    n_layers = _count(keys, r"transformer\.(\d+)\.0\.fn\.1\.to_q\.weight")
    overrides: dict[str, object] = {"channels": channels, "num_conv_tower": n_tower, "num_transformer_layers": n_layers}
    if n_layers:
        _, heads, _, key_size = need("transformer.0.0.fn.1.rel_content_bias").shape
        overrides.update(num_heads=heads, key_size=key_size, attention=True)
    widths = [need(f"conv_tower.{i}.0.2.weight").shape[0] for i in range(n_tower)]
    divisors = [d for d in (128, 64, 32, 16, 8, 4, 2, 1) if exponential_linspace_int(channels // 2, channels, n_tower, d) == widths]
    if n_tower and not divisors:
        raise ConversionError(f"conv tower widths {widths} do not follow the geometric schedule of the model")
    if n_tower:
        overrides["channel_divisor"] = divisors[0]
    heads_found = {
        m.group(1): int(v.shape[0]) for k, v in sd.items() if (m := re.fullmatch(r"_heads\.(\w+)\.0\.weight", k))
    }
    if not heads_found:
        raise ConversionError("no output heads (keys '_heads.<name>.0.weight') in the source state dict")
    overrides["heads"] = heads_found
    return dataclasses.replace(base, **overrides)


def convert_state_dict(source: Mapping[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Map an ``enformer_pytorch.Enformer`` state dict onto the parameter names of ``build_model(cfg)``.

    Raises :class:`ConversionError` naming the key for an unexpected key, a parameter the source
    lacks, or a tensor whose shape does not fit ``cfg``. Returns float tensors as float32.
    """
    target = build_model(cfg).state_dict()
    converted: dict[str, torch.Tensor] = {}
    for key, value in _canonical_keys(source).items():
        name = _map_key(key)
        if name not in target:
            raise ConversionError(f"key {key!r} (-> {name!r}) has no place in the model described by the config")
        if name.endswith("pool.logits.weight") and value.ndim == 4:
            value = value.flatten(start_dim=2)  # Conv2d (C, C, 1, 1) -> Conv1d (C, C, 1)
        if value.shape != target[name].shape:
            raise ConversionError(
                f"key {key!r} has shape {tuple(value.shape)}, but {name!r} needs {tuple(target[name].shape)}"
            )
        converted[name] = value.float() if value.is_floating_point() else value.clone()
    missing = [name for name in target if name not in converted]
    if missing:
        raise ConversionError(f"the source state dict lacks {len(missing)} tensor(s), first {missing[0]!r}")
    return converted
