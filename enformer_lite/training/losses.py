"""Count losses for non-negative track predictions.

Both take ``pred`` and ``target`` of shape (B, bins, T) on the transformed (training)
scale and an optional ``mask`` (B, bins) that is 1 where a bin counts and 0 where it is
masked (see :mod:`enformer_lite.data.target_mask`); they return a scalar mean over the
bins that count. A masked bin's prediction and target change neither the loss nor its
gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPS = 1e-8


def _weights(pred: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mask (B, bins) as (B, bins, 1) in pred's dtype; all ones without a mask."""
    if mask is None:
        return torch.ones(pred.shape[:-1] + (1,), dtype=pred.dtype, device=pred.device)
    if mask.shape != pred.shape[:-1]:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match predictions {tuple(pred.shape)}")
    return mask.to(pred.dtype).unsqueeze(-1)


def poisson_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Poisson negative log-likelihood ``pred - target * log(pred)`` (constant term dropped), mean over counted bins."""
    if mask is None:
        return F.poisson_nll_loss(pred, target, log_input=False, full=False, eps=EPS, reduction="mean")
    weight = _weights(pred, mask)
    nll = F.poisson_nll_loss(pred, target, log_input=False, full=False, eps=EPS, reduction="none")
    return (nll * weight).sum() / (weight.sum() * pred.shape[-1]).clamp_min(1.0)


def poisson_multinomial_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, total_weight: float = 0.2
) -> torch.Tensor:
    """Poisson on each track's total count plus multinomial on how it spreads over bins.

    This separates "how much signal" from "where" (as in Borzoi, Linder et al. 2023).
    Totals and shares are taken over the counted bins only, and both terms are divided by
    their number so that the loss has the scale of a per-bin Poisson loss;
    ``total_weight`` down-weights the total-count term.
    """
    weight = _weights(pred, mask)
    bins = weight.sum(dim=-2).clamp_min(1.0)  # (B, 1)
    pred_total = (pred * weight).sum(dim=-2)
    target_total = (target * weight).sum(dim=-2)
    total_term = F.poisson_nll_loss(pred_total, target_total, log_input=False, full=False, eps=EPS, reduction="none")
    log_share = torch.log(pred + EPS) - torch.log(pred_total + EPS).unsqueeze(-2)
    multinomial_term = -(target * weight * log_share).sum(dim=-2)
    return ((multinomial_term + total_weight * total_term) / bins).mean()


def group_share_loss(
    pred: torch.Tensor, target: torch.Tensor, groups: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Multinomial negative log-likelihood of how each bin's signal divides among the tracks of a group.

    The Poisson likelihood of a group of tracks (say DNase in three cell types) splits exactly into a
    Poisson on the group's total and this multinomial on each track's share of it, so adding it with a
    weight ``w`` weighs the cell-type-specific part of the signal ``1 + w`` times (the Poisson-multinomial
    idea of Borzoi, applied across tracks instead of across bins).

    Args:
        pred, target: (B, bins, T) on the training scale.
        groups: (T, G) 0/1 membership of each track in G groups; a track in no group (a zero row)
            adds nothing.
        mask: (B, bins), 1 where a bin counts.

    Returns:
        A scalar: the sum over grouped tracks of ``-target * log(share)``, divided by the counted
        bins and by T, the normalisation of :func:`poisson_loss`.
    """
    weight = _weights(pred, mask)
    groups = groups.to(pred.dtype)
    group_total = (pred @ groups) @ groups.T  # (B, bins, T): the total of each track's group
    grouped = groups.sum(dim=1) > 0  # (T,)
    log_share = torch.log(pred + EPS) - torch.log(group_total + EPS)
    nll = -(target * log_share)[..., grouped]
    return (nll * weight).sum() / (weight.sum() * pred.shape[-1]).clamp_min(1.0)


LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def loss_function(name: str, total_weight: float = 0.2) -> LossFn:
    """The loss called ``name`` (``poisson`` or ``poisson_multinomial``) as ``f(pred, target, mask) -> scalar``."""
    if name == "poisson":
        return poisson_loss
    if name == "poisson_multinomial":
        return lambda pred, target, mask=None: poisson_multinomial_loss(pred, target, mask, total_weight)
    raise ValueError(f"unknown loss {name!r}")
