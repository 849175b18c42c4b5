"""The Enformer-style network: conv stem and tower, transformer (or dilated CNN), crop, heads."""

from __future__ import annotations

import logging

import torch
from torch import nn

from enformer_lite.model.attention import TransformerBlock
from enformer_lite.model.config import ModelConfig
from enformer_lite.model.layers import ConvBlock, DilatedResidualBlock, Stem, TowerBlock, gelu
from enformer_lite.model.init import tf_init_

_log = logging.getLogger(__name__)

STEM_KERNEL = 15
TOWER_KERNEL = 5
DILATED_KERNEL = 3


def receptive_field(cfg: ModelConfig) -> int | None:
    """Input base pairs that can influence one output bin; None when attention sees the whole input.

    Standard recursion over the layers (width r, jump j): a conv of kernel k adds (k-1)*dilation*j,
    a pool by 2 adds j and doubles j. With the default CNN-only ablation (6 tower blocks, 11 dilated
    blocks of dilations 1,2,2,3,5,8,11,17,26,38,58) this is 646 + 256 * 171 = 44,422 bp, about the
    receptive field of Basenji2.
    """
    if cfg.attention and cfg.num_transformer_layers > 0:
        return None
    width, jump = STEM_KERNEL, 1
    width, jump = width + jump, jump * 2  # stem pool
    for _ in range(cfg.num_conv_tower):
        width += (TOWER_KERNEL - 1) * jump
        width, jump = width + jump, jump * 2
    if not cfg.attention:
        width += sum((DILATED_KERNEL - 1) * d * jump for d in cfg.dilations)
    return width


class EnformerLite(nn.Module):
    """Enformer-style sequence-to-tracks model.

    ``model(x, head)`` maps one-hot DNA x of shape (B, L, 4) (float; N = all-zero row; L a multiple
    of ``cfg.bin_size`` = 128 by default, with L / bin_size - target_length even and >= 0) to
    non-negative predictions of shape (B, target_length, n_tracks[head]). Layers, in order:

    * stem: Conv1d(4 -> C/2, k=15), residual BN-GELU-Conv(k=1), softmax pool by 2;
    * tower: ``num_conv_tower`` blocks of BN-GELU-Conv(k=5), residual BN-GELU-Conv(k=1), pool by 2,
      widths growing geometrically from C/2 to C;
    * ``attention=True``: pre-norm transformer blocks with relative-position attention (global
      receptive field); ``attention=False`` (CNN-only ablation): dilated residual conv blocks at
      bin resolution, receptive field :func:`receptive_field` (44,422 bp with defaults);
    * crop to the central ``target_length`` bins; BN-GELU-Conv(k=1, C -> 2C), dropout/8, GELU
      (the trunk embedding, (B, target_length, 2C));
    * one Linear(2C -> n_tracks) + softplus head per organism.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.stem = Stem(cfg.stem_channels, cfg.pooling)
        widths = [cfg.stem_channels, *cfg.tower_channels]
        self.tower = nn.Sequential(*(TowerBlock(a, b, cfg.pooling) for a, b in zip(widths[:-1], widths[1:])))
        if cfg.attention:
            self.transformer = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.num_transformer_layers))
            self.dilated = nn.Sequential()
        else:
            self.transformer = nn.ModuleList()
            self.dilated = nn.Sequential(
                *(DilatedResidualBlock(cfg.channels, d, cfg.dropout) for d in cfg.dilations)
            )
        self.final = ConvBlock(cfg.channels, 2 * cfg.channels, 1)
        self.final_dropout = nn.Dropout(cfg.dropout / 8)
        self.heads = nn.ModuleDict({name: nn.Linear(2 * cfg.channels, n) for name, n in cfg.heads.items()})

    # ----------------------------------------------------------------- helpers
    def _check_input(self, x: torch.Tensor, target_length: int | None = None) -> None:
        cfg = self.config
        target_length = cfg.target_length if target_length is None else target_length
        if x.ndim != 3 or x.shape[-1] != 4:
            raise ValueError(f"expected one-hot input of shape (B, L, 4), got {tuple(x.shape)}")
        length = x.shape[1]
        if length % cfg.bin_size:
            raise ValueError(f"input length {length} is not a multiple of the bin size {cfg.bin_size}")
        extra = length // cfg.bin_size - target_length
        if target_length < 1 or extra < 0 or extra % 2:
            raise ValueError(
                f"input length {length} gives {length // cfg.bin_size} bins, which cannot be cropped equally on "
                f"both sides to target_length={target_length}"
            )

    def _crop(self, x: torch.Tensor, target_length: int | None = None) -> torch.Tensor:
        """(B, T, C) -> (B, target_length, C), central bins (``target_length`` defaults to the config's)."""
        keep = self.config.target_length if target_length is None else target_length
        trim = (x.shape[1] - keep) // 2
        return x[:, trim : trim + keep]

    # ----------------------------------------------------------------- forward passes
    def trunk(
        self, x: torch.Tensor, return_attention: bool = False, target_length: int | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, list]:
        """One-hot (B, L, 4) -> embedding (B, target_length, 2C).

        With ``return_attention=True`` also returns the attention weights of every transformer layer,
        a list of (B, H, T, T) tensors over all T = L / bin_size bins (rows: queries, uncropped).
        ``target_length`` overrides the config's number of central bins kept, for inputs of another
        length than the configured one (training on sub-windows: ``train.sub_windows``).
        """
        self._check_input(x, target_length)
        h, attention = self.embed(
            self.tower_features(x), return_attention=return_attention, target_length=target_length
        )
        return (h, attention) if return_attention else h

    def tower_features(self, x: torch.Tensor) -> torch.Tensor:
        """One-hot (B, L, 4) -> conv-tower features (B, C, L / bin_size); the first half of :meth:`trunk`.

        Each output bin depends on a bounded stretch of the input, so callers that edit a few bases
        may recompute only the bins an edit reaches (the contributions stage does).
        """
        return self.tower(self.stem(x.transpose(1, 2)))

    def embed(
        self,
        features: torch.Tensor,
        select: torch.Tensor | slice | None = None,
        return_attention: bool = False,
        target_length: int | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Tower features (B, C, T) -> embedding (B, n, 2C) and attention weights; the second half of :meth:`trunk`.

        ``select`` picks the uncropped bins to embed (indices or a slice; the final block is
        pointwise, so selecting before it is exact); by default the central ``target_length`` (the
        config's unless given).
        The weights are a list of (B, H, T, T) per transformer layer when ``return_attention``.
        """
        attention: list[torch.Tensor] = []
        if self.config.attention:
            h = features.transpose(1, 2)  # (B, T, C)
            for block in self.transformer:
                h, weights = block(h, return_attention)
                if weights is not None:
                    attention.append(weights)
        else:
            h = self.dilated(features).transpose(1, 2)
        h = self._crop(h, target_length).transpose(1, 2) if select is None else h.transpose(1, 2)[:, :, select]
        return gelu(self.final_dropout(self.final(h))).transpose(1, 2), attention

    def head(self, embedding: torch.Tensor, head: str) -> torch.Tensor:
        """Embedding (B, T, 2C) -> tracks (B, T, n_tracks[head]), softplus."""
        if head not in self.heads:
            raise KeyError(f"unknown head {head!r}; the model has {sorted(self.heads)}")
        return nn.functional.softplus(self.heads[head](embedding))

    def forward(
        self, x: torch.Tensor, head: str, return_attention: bool = False, target_length: int | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, list]:
        """One-hot (B, L, 4) -> predictions (B, target_length, n_tracks[head]).

        With ``return_attention=True`` returns (predictions, list of per-layer (B, H, T, T) weights);
        ``target_length`` as in :meth:`trunk`.
        """
        if return_attention:
            embedding, attention = self.trunk(x, return_attention=True, target_length=target_length)
            return self.head(embedding, head), attention
        return self.head(self.trunk(x, target_length=target_length), head)

    def forward_all(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One-hot (B, L, 4) -> {organism: (B, target_length, n_tracks)} for every head."""
        embedding = self.trunk(x)
        return {name: self.head(embedding, name) for name in self.heads}


def build_model(cfg: ModelConfig) -> EnformerLite:
    """A freshly initialised :class:`EnformerLite` for ``cfg``, drawn as the published TF code draws it
    (:func:`~enformer_lite.model.init.tf_init_`)."""
    return tf_init_(EnformerLite(cfg))


def compile_trunk(model: EnformerLite) -> bool:
    """Run ``model.trunk`` through ``torch.compile`` (inductor) from now on; True if compiled.

    The compiled trunk serves training, validation and inference alike (the heads stay eager). Any
    failure, at ``torch.compile`` itself or at a call (where inductor builds its kernels: a missing
    C++ compiler, an unsupported op), logs a warning and the model goes back to eager for good; an
    error that the eager trunk raises too (a bad input) propagates as it would without compilation.
    Parameters and ``state_dict`` are untouched: only the instance's ``trunk`` is replaced (a deep
    copy keeps the compiled trunk, bound to the copy).
    """
    import types

    try:
        compiled = torch.compile(EnformerLite.trunk)
    except Exception as err:  # noqa: BLE001 - any failure means: stay eager
        _log.warning("torch.compile failed (%s: %s); the model runs eagerly", type(err).__name__, err)
        return False

    def trunk(self: EnformerLite, *args: object, **kwargs: object) -> object:
        try:
            return compiled(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001
            out = EnformerLite.trunk(self, *args, **kwargs)  # a bad input raises here, as without compilation
            _log.warning("the compiled trunk failed (%s: %s); falling back to eager", type(err).__name__, err)
            self.__dict__.pop("trunk", None)
            return out

    model.trunk = types.MethodType(trunk, model)  # type: ignore[method-assign]
    return True
