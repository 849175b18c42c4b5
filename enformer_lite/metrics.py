"""Per-track Pearson r accumulated in float64.

torchmetrics' PearsonCorrCoef returns NaN when a variance falls below sqrt(eps) of its state
dtype. In float32 that bound (3.5e-4) is above the variance of a sparse track such as CAGE over
all positions (most bins near zero), so a perfectly defined correlation would be reported as
missing; in float64 the bound is 1.5e-8.
"""

from __future__ import annotations

import torch
from torchmetrics.regression import PearsonCorrCoef


def track_pearson(num_outputs: int = 1) -> PearsonCorrCoef:
    """A PearsonCorrCoef with float64 states; feed it with :func:`update_pearson`."""
    return PearsonCorrCoef(num_outputs=num_outputs).set_dtype(torch.float64)


def update_pearson(metric: PearsonCorrCoef, pred: torch.Tensor, target: torch.Tensor) -> None:
    """Add (N,) or (N, num_outputs) predictions and targets, as float64 (nothing when N is 0)."""
    if pred.shape[0] == 0:
        return
    metric.update(pred.detach().to(torch.float64), target.detach().to(torch.float64))
