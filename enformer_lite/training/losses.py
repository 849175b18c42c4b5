"""Count losses for non-negative track predictions.

Both take ``pred`` and ``target`` of shape (B, bins, T) on the transformed
(training) scale and return a scalar mean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

EPS = 1e-8


def poisson_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Poisson negative log-likelihood ``pred - target * log(pred)`` (constant term dropped), mean over all."""
    return F.poisson_nll_loss(pred, target, log_input=False, full=False, eps=EPS, reduction="mean")


def poisson_multinomial_loss(pred: torch.Tensor, target: torch.Tensor, total_weight: float = 0.2) -> torch.Tensor:
    """Poisson on each track's total count plus multinomial on how it spreads over bins.

    This separates "how much signal" from "where" (as in Borzoi, Linder et al. 2023).
    Both terms are divided by the number of bins so that the loss has the scale of
    a per-bin Poisson loss; ``total_weight`` down-weights the total-count term.
    """
    bins = pred.shape[-2]
    pred_total = pred.sum(dim=-2)
    target_total = target.sum(dim=-2)
    total_term = F.poisson_nll_loss(pred_total, target_total, log_input=False, full=False, eps=EPS, reduction="none")
    log_share = torch.log(pred + EPS) - torch.log(pred_total + EPS).unsqueeze(-2)
    multinomial_term = -(target * log_share).sum(dim=-2)
    return ((multinomial_term + total_weight * total_term) / bins).mean()


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def loss_function(name: str, total_weight: float = 0.2) -> LossFn:
    """The loss called ``name`` (``poisson`` or ``poisson_multinomial``) as ``f(pred, target) -> scalar``."""
    if name == "poisson":
        return poisson_loss
    if name == "poisson_multinomial":
        return lambda pred, target: poisson_multinomial_loss(pred, target, total_weight)
    raise ValueError(f"unknown loss {name!r}")
