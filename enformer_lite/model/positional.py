"""Relative positional basis functions and the relative shift of Transformer-XL style attention.

The basis follows the published Enformer definition (Avsec et al. 2021, TensorFlow code):
for a sequence of ``T`` bins, relative distances ``d = -(T-1) .. T-1`` are expanded into
``F`` features: three families (exponential decay, central mask, gamma pdf), ``F/6`` functions
each, computed on ``|d|``, then the same block multiplied by ``sign(d)``.

* exponential: half lives ``2 ** linspace(3, log2(T), F/6)``; feature ``exp(-ln 2 * |d| / half_life)``.
* central mask: widths ``2 ** k - 1`` for ``k = 1 .. F/6``; feature ``1[width > |d|]``.
* gamma: means ``linspace(T / (F/6), T, F/6)``, stddev ``T / (2 F/6)``; feature = gamma pdf at ``|d|``
  plus 1e-8, divided by that function's maximum over all relative positions (the normalisation of
  the published model, whose features at T=1536 enformer-pytorch ships as a table). enformer-pytorch
  computes the gamma block differently at other lengths (dividing each position by its maximum over
  functions); that variant is available as ``gamma="enformer_pytorch"`` for equivalence tests only.

Features are computed in float64 and cached per (length, size, variant, device, dtype), so every
layer and every step reuses one table instead of recomputing it.
"""

from __future__ import annotations

import functools
import math

import torch

from enformer_lite.model.config import GAMMA_VARIANTS, NUM_POSITIONAL_COMPONENTS

_MIN_HALF_LIFE = 3.0
_GAMMA_EPS = 1e-8


def _exponential(distance: torch.Tensor, n: int, length: int) -> torch.Tensor:
    """(P,) absolute distances -> (P, n)."""
    half_life = 2.0 ** torch.linspace(_MIN_HALF_LIFE, math.log2(length), n, dtype=torch.float64)
    return torch.exp(-math.log(2.0) / half_life * distance[:, None])


def _central_mask(distance: torch.Tensor, n: int) -> torch.Tensor:
    """(P,) absolute distances -> (P, n) of 0/1."""
    widths = 2.0 ** torch.arange(1, n + 1, dtype=torch.float64) - 1.0
    return (widths > distance[:, None]).to(torch.float64)


def _gamma(distance: torch.Tensor, n: int, length: int, variant: str) -> torch.Tensor:
    """(P,) absolute distances -> (P, n) normalised gamma densities."""
    stddev = length / (2 * n)
    mean = torch.linspace(length / n, length, n, dtype=torch.float64)
    concentration = (mean / stddev) ** 2
    rate = mean / stddev**2
    x = distance[:, None]
    log_pdf = (
        torch.xlogy(concentration - 1.0, x)
        - rate * x
        - torch.lgamma(concentration)
        + concentration * torch.log(rate)
    )
    pdf = torch.exp(log_pdf) + _GAMMA_EPS
    dim = 0 if variant == "tf" else 1
    return pdf / pdf.amax(dim=dim, keepdim=True)


@functools.lru_cache(maxsize=32)
def _cached(length: int, num_features: int, gamma: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if num_features % NUM_POSITIONAL_COMPONENTS:
        raise ValueError(f"num_features={num_features} must be divisible by {NUM_POSITIONAL_COMPONENTS}")
    if gamma not in GAMMA_VARIANTS:
        raise ValueError(f"gamma={gamma!r} must be one of {GAMMA_VARIANTS}")
    n = num_features // NUM_POSITIONAL_COMPONENTS
    # A cached tensor must be usable by later autograd passes, so it is never an inference tensor,
    # even when first requested under torch.inference_mode().
    with torch.inference_mode(False), torch.no_grad():
        signed = torch.arange(-length + 1, length, dtype=torch.float64)
        distance = signed.abs()
        symmetric = torch.cat(
            [_exponential(distance, n, length), _central_mask(distance, n), _gamma(distance, n, length, gamma)], dim=-1
        )
        features = torch.cat([symmetric, torch.sign(signed)[:, None] * symmetric], dim=-1)
        return features.to(device=device, dtype=dtype)


def positional_features(
    length: int,
    num_features: int,
    *,
    gamma: str = "tf",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Relative positional features for distances ``-(length-1) .. length-1``.

    Returns a (2*length - 1, num_features) tensor (row ``k`` is distance ``k - (length-1)``),
    columns ordered [exponential, central mask, gamma] then the same times sign(distance).
    The returned tensor is shared by the cache: do not modify it in place.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    return _cached(int(length), int(num_features), gamma, torch.device(device or "cpu"), dtype)


def band_shift(logits: torch.Tensor, keys: int) -> torch.Tensor:
    """Relative shift for a block of consecutive query rows: (..., R, keys + R - 1) -> (..., R, keys).

    ``out[..., r, j] = logits[..., r, j + R - 1 - r]``: when column ``w`` of ``logits`` holds the
    relative distance ``w - (R - 1) - i0`` for a block of queries starting at ``i0``, row ``r`` of
    the result scores query ``i0 + r`` against key ``j``. A strided view, no copy (the input is made
    contiguous first); row ``r`` starts ``R - 1 - r`` elements into row ``r``.
    """
    rows = logits.shape[-2]
    if logits.shape[-1] != keys + rows - 1:
        raise ValueError(f"band_shift expects (..., R, keys + R - 1) logits, got {tuple(logits.shape)} for keys={keys}")
    logits = logits.contiguous()
    size = (*logits.shape[:-1], keys)
    stride = (*logits.stride()[:-2], logits.shape[-1] - 1, 1)
    return logits.as_strided(size, stride, logits.storage_offset() + rows - 1)


def relative_shift(logits: torch.Tensor) -> torch.Tensor:
    """Turn logits against relative distances into logits against key positions.

    ``logits[..., i, k]`` (shape (..., T, 2T-1)) scores query ``i`` against distance ``k - (T-1)``;
    the result ``out[..., i, j] = logits[..., i, j - i + T - 1]`` (shape (..., T, T)) scores query
    ``i`` against key ``j``. This is the Transformer-XL shift of the published model, done as a
    strided view (no copy): row ``i`` of the result starts ``T - 1 - i`` elements into row ``i``.
    """
    t = logits.shape[-2]
    if logits.shape[-1] != 2 * t - 1:
        raise ValueError(f"relative_shift expects (..., T, 2T-1) logits, got {tuple(logits.shape)}")
    return band_shift(logits, t)
