"""Forward passes for contribution scores: the reference, edited sequences and attention.

The quantity explained for each gene is its *TSS signal*: the model's predictions summed
over the TSS bins and over the gene's target tracks (a per-gene track weight vector, so
stranded tracks of the other strand count zero).

:class:`ModelRunner` works with any ``model(x, head=...) -> (B, target_length, T)`` by full
forward passes. :class:`SplicedRunner` is the fast path for
:class:`~enformer_lite.model.EnformerLite`: the conv stem and tower (about two thirds of a
forward pass) only see a few hundred bp around each position, so for an edited sequence the
tower output of the reference is reused and recomputed only over the edit plus the tower's
receptive field; the transformer (or dilated stack) and head then run on the spliced
features. The first reference pass checks that this reproduces ``model(x)``; if it does not
(an architecture this module does not know), the runner falls back to full passes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.model import EnformerLite, receptive_field

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Reference:
    """The reference pass over B gene windows.

    Attributes:
        x: (B, L, 4) one-hot input.
        weights: (B, T) per-gene track weights of the TSS signal.
        signal: (B,) TSS signal.
        grad_input: (B, L) gradient × input per base (gradient of the TSS signal at the
            observed base), or None when not requested.
        bins: (B, n_bins, T) predictions for every uncropped bin; NaN where the model gives
            none (outside the ``target_length`` central bins for models without the fast path).
        tower: (B, C, n_bins) reference conv-tower features (fast path only), else None.
    """

    x: torch.Tensor
    weights: torch.Tensor
    signal: npt.NDArray[np.float64]
    grad_input: npt.NDArray[np.float32] | None
    bins: npt.NDArray[np.float32]
    tower: torch.Tensor | None = None


@dataclass(frozen=True, eq=False)
class Edit:
    """Replace bases [start, end) of reference item ``item`` by ``replacement`` ((end - start, 4) one-hot)."""

    item: int
    start: int
    end: int
    replacement: torch.Tensor


def tss_signal(predictions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, k, T) predictions at the TSS bins and (B, T) weights → (B,) weighted sums."""
    return (predictions * weights[:, None, :]).sum(dim=(1, 2))


class ModelRunner:
    """Full forward passes of any ``model(x, head=...)``; attention only from an EnformerLite with a transformer."""

    def __init__(
        self, model: nn.Module, head: str, geometry: WindowGeometry, tss_bins: npt.NDArray[np.int64], batch_size: int = 4
    ) -> None:
        self.model = model.eval()
        self.head = head
        self.geometry = geometry
        self.tss_bins = np.asarray(tss_bins, dtype=np.int64)
        self.batch_size = batch_size
        self.passes = 0
        """Sequences run through the model (reference and edited), for throughput figures."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def has_attention(self) -> bool:
        cfg = getattr(self.model, "config", None)
        return isinstance(self.model, EnformerLite) and bool(cfg.attention) and cfg.num_transformer_layers > 0

    # ----------------------------------------------------------------- full passes
    def _target_bins(self) -> npt.NDArray[np.int64]:
        return self.tss_bins - self.geometry.crop

    def reference(self, x: torch.Tensor, weights: torch.Tensor, want_grad: bool) -> Reference:
        """Predictions, TSS signal and (optionally) gradient × input for (B, L, 4) ``x``."""
        x = x.detach().clone().requires_grad_(want_grad)
        with torch.set_grad_enabled(want_grad):
            pred = self.model(x, head=self.head)
            signal = tss_signal(pred[:, self._target_bins()], weights)
            grad_input = None
            if want_grad:
                (grad,) = torch.autograd.grad(signal.sum(), x)
                grad_input = (grad * x).sum(-1).detach().cpu().numpy()
        self.passes += x.shape[0]
        g = self.geometry
        bins = np.full((x.shape[0], g.n_bins, pred.shape[-1]), np.nan, dtype=np.float32)
        bins[:, g.crop : g.crop + g.target_length] = pred.detach().float().cpu().numpy()
        return Reference(x.detach(), weights, signal.detach().double().cpu().numpy(), grad_input, bins)

    def edited_signal(self, ref: Reference, edits: Sequence[Edit]) -> npt.NDArray[np.float64]:
        """TSS signal of each edited sequence, (len(edits),), in batches of ``batch_size``."""
        out = []
        with torch.no_grad():
            for i in range(0, len(edits), self.batch_size):
                batch = edits[i : i + self.batch_size]
                items = [e.item for e in batch]
                x = ref.x[items].clone()
                for j, e in enumerate(batch):
                    x[j, e.start : e.end] = e.replacement
                pred = self.model(x, head=self.head)
                out.append(tss_signal(pred[:, self._target_bins()], ref.weights[items]).double().cpu().numpy())
                self.passes += len(batch)
        return np.concatenate(out) if out else np.zeros(0)

    def attention(self, ref: Reference) -> npt.NDArray[np.float32] | None:
        """(B, n_bins) attention from the TSS bins to every uncropped bin, averaged over TSS bins,
        heads and layers; None when the model has no attention."""
        if not self.has_attention:
            return None
        with torch.no_grad():
            _, weights = self.model(ref.x, head=self.head, return_attention=True)
        return self._tss_attention(weights)

    def _tss_attention(self, weights: list[torch.Tensor]) -> npt.NDArray[np.float32]:
        mean = torch.stack([w.float().mean(dim=1) for w in weights]).mean(dim=0)  # (B, n_bins, n_bins)
        return mean[:, torch.as_tensor(self.tss_bins)].mean(dim=1).cpu().numpy()


def tower_reach(model: EnformerLite) -> int:
    """Width in bp of the input that one conv-tower output bin depends on."""
    cfg = dataclasses.replace(model.config, attention=False, num_dilated_layers=0)
    return int(receptive_field(cfg))


class SplicedRunner(ModelRunner):
    """Fast path for :class:`EnformerLite`: reuse the reference tower features for edits."""

    def __init__(
        self, model: EnformerLite, head: str, geometry: WindowGeometry, tss_bins: npt.NDArray[np.int64], batch_size: int = 4
    ) -> None:
        super().__init__(model, head, geometry, tss_bins, batch_size)
        reach = tower_reach(model)
        bs = geometry.bin_size
        self.reach = reach
        self.pad = -(-reach // bs) * bs  # context kept around an edit, whole bins so pooling stays aligned
        self.verified: bool | None = None

    def _tower(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L', 4) one-hot → (B, C, L' / bin_size) tower features."""
        return self.model.tower_features(x)

    def _rest(
        self, h: torch.Tensor, bins: npt.NDArray[np.int64] | None = None, return_attention: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Tower features (B, C, n_bins) → predictions (B, len(bins) or n_bins, T), uncropped,
        and the per-layer attention weights when asked (:meth:`EnformerLite.embed`)."""
        select = slice(None) if bins is None else torch.as_tensor(bins, device=h.device)
        embedding, weights = self.model.embed(h, select, return_attention)
        return self.model.head(embedding, self.head), weights

    def _verify(self, x: torch.Tensor, bins: npt.NDArray[np.float32]) -> bool:
        g = self.geometry
        with torch.no_grad():
            expected = self.model(x, head=self.head).float().cpu().numpy()
        self.passes += x.shape[0]
        got = bins[:, g.crop : g.crop + g.target_length]
        ok = bool(np.allclose(got, expected, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(expected).max()))))
        if not ok:
            log.warning("spliced forward pass does not reproduce the model's output; using full passes for edits")
        return ok

    def reference(self, x: torch.Tensor, weights: torch.Tensor, want_grad: bool) -> Reference:
        if self.verified is False:
            return super().reference(x, weights, want_grad)
        x = x.detach().clone().requires_grad_(want_grad)
        with torch.set_grad_enabled(want_grad):
            h = self._tower(x)
            pred, _ = self._rest(h)
            signal = tss_signal(pred[:, self.tss_bins], weights)
            grad_input = None
            if want_grad:
                (grad,) = torch.autograd.grad(signal.sum(), x)
                grad_input = (grad * x).sum(-1).detach().cpu().numpy()
        self.passes += x.shape[0]
        bins = pred.detach().float().cpu().numpy()
        if self.verified is None:
            self.verified = self._verify(x.detach(), bins)
            if not self.verified:
                return super().reference(x, weights, want_grad)
        return Reference(x.detach(), weights, signal.detach().double().cpu().numpy(), grad_input, bins, h.detach())

    def _spliced_features(self, ref: Reference, edit: Edit) -> torch.Tensor:
        """(C, n_bins) tower features of the edited sequence: reference features with the bins the edit
        can reach recomputed from the edited bases plus ``pad`` bp of context on each side."""
        g = self.geometry
        bs = g.bin_size
        first = max(0, (edit.start - self.reach) // bs)
        last = min(g.n_bins, -(-(edit.end + self.reach) // bs))
        lo, hi = max(0, first * bs - self.pad), min(g.window_length, last * bs + self.pad)
        local = ref.x[edit.item, lo:hi].clone()
        local[edit.start - lo : edit.end - lo] = edit.replacement
        features = ref.tower[edit.item].clone()
        features[:, first:last] = self._tower(local[None])[0, :, first - lo // bs : last - lo // bs]
        return features

    def edited_signal(self, ref: Reference, edits: Sequence[Edit]) -> npt.NDArray[np.float64]:
        if ref.tower is None:
            return super().edited_signal(ref, edits)
        out = []
        with torch.no_grad():
            for i in range(0, len(edits), self.batch_size):
                batch = edits[i : i + self.batch_size]
                h = torch.stack([self._spliced_features(ref, e) for e in batch])
                pred, _ = self._rest(h, bins=self.tss_bins)
                out.append(tss_signal(pred, ref.weights[[e.item for e in batch]]).double().cpu().numpy())
                self.passes += len(batch)
        return np.concatenate(out) if out else np.zeros(0)

    def attention(self, ref: Reference) -> npt.NDArray[np.float32] | None:
        if not self.has_attention:
            return None
        if ref.tower is None:
            return super().attention(ref)
        with torch.no_grad():
            _, weights = self._rest(ref.tower, bins=self.tss_bins, return_attention=True)
        return self._tss_attention(weights)


def make_runner(
    model: nn.Module, head: str, geometry: WindowGeometry, tss_bins: npt.NDArray[np.int64], batch_size: int = 4
) -> ModelRunner:
    """The fast :class:`SplicedRunner` for an EnformerLite, else the generic :class:`ModelRunner`."""
    cls = SplicedRunner if isinstance(model, EnformerLite) else ModelRunner
    return cls(model, head, geometry, tss_bins, batch_size)
