"""Attributions over short sequences (elements, promoters) for motif discovery.

Each sequence of ``seq_length`` bp is the centre of its own model window; the *readout* is the
prediction at the sequence's centre bin ± ``readout_flank_bins`` summed over the chosen tracks.
Two kinds:

* ``grad_input``: the gradient of the readout with respect to the one-hot input, mean-centred
  over the 4 bases (TF-MoDISco's hypothetical contributions; the contribution is that times the
  one-hot). For an :class:`~enformer_lite.model.EnformerLite` the conv tower of the whole window
  runs without autograd and only the ``seq_length`` bp plus the tower's reach are recomputed
  with it (:func:`spliced_gradient`), which is exact because no other tower bin sees those bases.
* ``ism``: the ISM effect on the readout, mean-centred over the 4 bases
  (:mod:`enformer_lite.interpret.ism`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from enformer_lite.contributions.runner import make_runner, tower_reach
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.sequence import one_hot
from enformer_lite.interpret.ism import centred, ism_window, summary_matrix
from enformer_lite.model import EnformerLite


@dataclass(frozen=True)
class AttributionRegion:
    """One attribution sequence: ``name``, ``kind`` and [start, start + length) on ``chrom``."""

    name: str
    kind: str
    chrom: str
    start: int


@dataclass(frozen=True)
class Attributions:
    """Attributions of N sequences of S bp.

    Attributes:
        sequences: the N sequences.
        one_hot: (N, S, 4) float32 one-hot (N bases all zero).
        hypothetical: (N, S, 4) float32 hypothetical contributions (mean-centred over bases).
    """

    sequences: list[AttributionRegion]
    one_hot: npt.NDArray[np.float32]
    hypothetical: npt.NDArray[np.float32]

    @property
    def contributions(self) -> npt.NDArray[np.float32]:
        """(N, S, 4) hypothetical × one-hot."""
        return self.hypothetical * self.one_hot


def _readout(pred: torch.Tensor, tracks: torch.Tensor) -> torch.Tensor:
    """(B, k, T) predictions at the readout bins → (B,) sum over bins and chosen tracks."""
    return pred[:, :, tracks].sum(dim=(1, 2))


def spliced_gradient(
    model: EnformerLite, head: str, x: torch.Tensor, lo: int, hi: int, bins: npt.NDArray[np.int64], tracks: torch.Tensor
) -> torch.Tensor:
    """Gradient (B, hi - lo, 4) of the readout w.r.t. input bases [lo, hi) of windows ``x`` (B, L, 4),
    recomputing with autograd only the tower bins those bases reach."""
    bs = model.config.bin_size
    reach = tower_reach(model)
    pad = -(-reach // bs) * bs
    n_bins = x.shape[1] // bs
    first, last = max(0, (lo - reach) // bs), min(n_bins, -(-(hi + reach) // bs))
    a, b = max(0, first * bs - pad), min(x.shape[1], last * bs + pad)
    with torch.no_grad():
        ref = model.tower_features(x)
    local = x[:, a:b].clone().requires_grad_(True)
    part = model.tower_features(local)[:, :, first - a // bs : last - a // bs]
    h = torch.cat([ref[:, :, :first], part, ref[:, :, last:]], dim=2)
    embedding, _ = model.embed(h, torch.as_tensor(bins, device=x.device))
    (grad,) = torch.autograd.grad(_readout(model.head(embedding, head), tracks).sum(), local)
    return grad[:, lo - a : hi - a]


def full_gradient(
    model: nn.Module, head: str, x: torch.Tensor, lo: int, hi: int, bins: npt.NDArray[np.int64], crop: int,
    tracks: torch.Tensor,
) -> torch.Tensor:
    """Gradient (B, hi - lo, 4) of the readout by a full forward and backward pass (any model)."""
    x = x.clone().requires_grad_(True)
    pred = model(x, head=head)[:, torch.as_tensor(bins - crop)]
    (grad,) = torch.autograd.grad(_readout(pred, tracks).sum(), x)
    return grad[:, lo:hi]


def attributions(
    model: nn.Module,
    head: str,
    geometry: WindowGeometry,
    fetch: Callable[[str, int, int], npt.NDArray[np.uint8]],
    sequences: Sequence[AttributionRegion],
    seq_length: int,
    tracks: npt.NDArray[np.intp],
    method: str = "grad_input",
    readout_flank_bins: int = 1,
    batch_size: int = 2,
    device: torch.device | str = "cpu",
) -> Attributions:
    """Attributions of every sequence (see the module docstring)."""
    bins = geometry.centre_bins(readout_flank_bins)
    track_index = torch.as_tensor(tracks, device=device)
    oh = np.zeros((len(sequences), seq_length, 4), dtype=np.float32)
    hyp = np.zeros_like(oh)
    runner = make_runner(model, head, geometry, bins, batch_size) if method == "ism" else None
    for i in range(0, len(sequences), batch_size):
        batch = list(sequences[i : i + batch_size])
        windows = []
        for s in batch:
            start = geometry.window_around_bin(s.start + seq_length // 2)
            windows.append(fetch(s.chrom, start, start + geometry.window_length))
        codes = np.stack(windows)
        lo = geometry.centre_offset - seq_length // 2
        oh[i : i + len(batch)] = one_hot(codes[:, lo : lo + seq_length])
        if method == "ism":
            for j, window in enumerate(windows):
                _, effect = ism_window(runner, window, lo, lo + seq_length)
                hyp[i + j] = np.nan_to_num(centred(summary_matrix(effect, tracks)))
            continue
        x = torch.as_tensor(one_hot(codes), device=device)
        if isinstance(model, EnformerLite):
            grad = spliced_gradient(model, head, x, lo, lo + seq_length, bins, track_index)
        else:
            grad = full_gradient(model, head, x, lo, lo + seq_length, bins, geometry.crop, track_index)
        grad = grad.detach().double().cpu().numpy()
        hyp[i : i + len(batch)] = grad - grad.mean(axis=2, keepdims=True)
    return Attributions(list(sequences), oh, hyp)
