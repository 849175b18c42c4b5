"""Architecture hyperparameters of the Enformer-style model.

One frozen dataclass, :class:`ModelConfig`, describes every architectural choice;
presets range from ``"tiny"`` (smoke tests) and ``"lite"`` (trains on a laptop CPU
at 196,608 bp) to ``"enformer"`` (the published hyperparameters of Avsec et al. 2021:
1536 channels, 11 transformer layers, 8 heads of key size 64, 7 pooling stages giving
128 bp bins, 896 output bins, 5313 human / 1643 mouse tracks).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

POOLING_TYPES = ("attention", "max")
GAMMA_VARIANTS = ("tf", "enformer_pytorch")
# Three basis families (exponential, central mask, gamma), each symmetric and sign-asymmetric.
NUM_POSITIONAL_COMPONENTS = 6


def _published_heads() -> dict[str, int]:
    return {"human": 5313, "mouse": 1643}


def exponential_linspace_int(start: int, end: int, num: int, divisible_by: int = 1) -> list[int]:
    """``num`` integers growing geometrically from ``start`` to ``end``, rounded to ``divisible_by``.

    Rounding is half-to-even (as NumPy's and Python's ``round``), the rule of the published model.
    """
    if num == 1:
        return [int(round(start / divisible_by) * divisible_by)]
    base = math.exp(math.log(end / start) / (num - 1))
    return [int(round(start * base**i / divisible_by) * divisible_by) for i in range(num)]


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of :class:`enformer_lite.model.EnformerLite`.

    Derived sizes: the stem has ``channels // 2`` filters; the conv tower grows from
    ``channels // 2`` to ``channels`` over ``num_conv_tower`` blocks; the input is pooled
    ``num_conv_tower + 1`` times by 2, so one output bin covers ``bin_size`` bp; attention
    uses ``num_heads`` heads with key size ``key_size``, value size ``channels // num_heads``
    and ``channels // num_heads`` relative positional features.
    """

    channels: int = 96
    """Width of the trunk (transformer model dimension); the trunk embedding has 2x this."""
    num_transformer_layers: int = 2
    num_heads: int = 4
    key_size: int = 32
    """Size of query/key vectors per head."""
    num_conv_tower: int = 6
    """Pooled residual conv blocks after the stem (the published model has 6, i.e. 128 bp bins)."""
    channel_divisor: int = 16
    """Tower widths are rounded to multiples of this (128 in the published model)."""
    pooling: str = "attention"
    """"attention" (softmax pooling with learned per-channel logits) or "max"."""
    attention: bool = True
    """False selects the CNN-only ablation: dilated residual convolutions replace the transformer."""
    num_dilated_layers: int = 11
    """CNN-only ablation: number of dilated residual blocks (kernel 3) at bin resolution."""
    dilation_rate_mult: float = 1.5
    """CNN-only ablation: dilation of block i is round(dilation_rate_mult ** i)."""
    target_length: int = 896
    """Output bins kept from the centre of the sequence."""
    heads: dict[str, int] = field(default_factory=_published_heads)
    """Organism name -> number of output tracks (one softplus head each)."""
    dropout: float = 0.4
    attention_dropout: float = 0.05
    positional_dropout: float = 0.01
    positional_gamma: str = "tf"
    """Normalisation of the gamma positional basis: "tf" (published TensorFlow definition, each basis
    function divided by its maximum over relative positions; valid at any length) or
    "enformer_pytorch" (each position divided by its maximum over basis functions, as enformer-pytorch
    0.8 computes it when not using its precomputed 1536-bin table; kept for equivalence tests only)."""

    def __post_init__(self) -> None:
        # Store a private copy so a caller's dict cannot change a frozen config later.
        object.__setattr__(self, "heads", {str(k): int(v) for k, v in dict(self.heads).items()})
        self._validate()

    # ----------------------------------------------------------------- derived sizes
    @property
    def bin_size(self) -> int:
        """Base pairs per output bin: 2 ** (number of pooling stages)."""
        return 2 ** (self.num_conv_tower + 1)

    @property
    def stem_channels(self) -> int:
        return self.channels // 2

    @property
    def tower_channels(self) -> list[int]:
        """Output widths of the conv tower blocks, length ``num_conv_tower``."""
        if self.num_conv_tower == 0:
            return []
        return exponential_linspace_int(self.stem_channels, self.channels, self.num_conv_tower, self.channel_divisor)

    @property
    def value_size(self) -> int:
        return self.channels // self.num_heads

    @property
    def num_positional_features(self) -> int:
        return self.channels // self.num_heads

    @property
    def dilations(self) -> list[int]:
        """Dilation of each block of the CNN-only ablation (round half up)."""
        return [int(math.floor(self.dilation_rate_mult**i + 0.5)) for i in range(self.num_dilated_layers)]

    # ----------------------------------------------------------------- validation
    def _validate(self) -> None:
        def bad(key: str, why: str) -> ValueError:
            return ValueError(f"model config: {key}={getattr(self, key)!r} {why}")

        for key in ("channels", "num_heads", "key_size", "channel_divisor", "target_length"):
            if int(getattr(self, key)) < 1:
                raise bad(key, "must be a positive integer")
        for key in ("num_transformer_layers", "num_conv_tower", "num_dilated_layers"):
            if int(getattr(self, key)) < 0:
                raise bad(key, "must be >= 0")
        if self.channels % 2:
            raise bad("channels", "must be even (the stem has channels // 2 filters)")
        if self.pooling not in POOLING_TYPES:
            raise bad("pooling", f"must be one of {POOLING_TYPES}")
        if self.positional_gamma not in GAMMA_VARIANTS:
            raise bad("positional_gamma", f"must be one of {GAMMA_VARIANTS}")
        for key in ("dropout", "attention_dropout", "positional_dropout"):
            if not 0.0 <= float(getattr(self, key)) < 1.0:
                raise bad(key, "must be in [0, 1)")
        if self.dilation_rate_mult < 1.0:
            raise bad("dilation_rate_mult", "must be >= 1")
        if not self.heads:
            raise bad("heads", "must name at least one organism")
        for name, n in self.heads.items():
            if n < 1 or not name.isidentifier():
                raise ValueError(f"model config: heads[{name!r}]={n} needs an identifier name and >= 1 tracks")
        if self.attention:
            if self.channels % self.num_heads:
                raise bad("channels", f"must be divisible by num_heads={self.num_heads}")
            if self.num_positional_features % NUM_POSITIONAL_COMPONENTS:
                raise bad(
                    "channels",
                    f"gives channels // num_heads = {self.num_positional_features} relative positional features, "
                    f"which must be divisible by {NUM_POSITIONAL_COMPONENTS}",
                )
        if self.num_conv_tower and self.tower_channels[-1] != self.channels:
            raise bad(
                "channels",
                f"is not reached by the conv tower (last width {self.tower_channels[-1]}); "
                f"make it a multiple of channel_divisor={self.channel_divisor}",
            )

    # ----------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict of all fields (for checkpoints)."""
        out = dataclasses.asdict(self)
        out["heads"] = dict(self.heads)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults, unknown ones are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"model config: unknown key(s) {unknown}; known keys are {sorted(known)}")
        return cls(**dict(data))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named preset (see :data:`PRESETS`) with some fields replaced."""
        if name not in PRESETS:
            raise ValueError(f"model config: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        data = {**PRESETS[name], **overrides}
        return cls.from_dict(data)


PRESETS: dict[str, dict[str, Any]] = {
    # Smoke tests and CI: seconds per step on one core.
    "tiny": dict(
        channels=48, num_transformer_layers=1, num_heads=2, key_size=16, channel_divisor=8,
        dropout=0.1, attention_dropout=0.05, positional_dropout=0.01,
    ),
    # Demo training on a 2-core CPU at 196,608 bp.
    "lite": dict(
        channels=96, num_transformer_layers=2, num_heads=4, key_size=32, channel_divisor=16,
        dropout=0.2, attention_dropout=0.05, positional_dropout=0.01,
    ),
    # Published Enformer (Avsec et al. 2021).
    "enformer": dict(
        channels=1536, num_transformer_layers=11, num_heads=8, key_size=64, channel_divisor=128,
        dropout=0.4, attention_dropout=0.05, positional_dropout=0.01,
    ),
}
