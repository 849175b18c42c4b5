"""Step 1 of the oracle: motif scores and occupancy at motif centres.

A strand of motif k starting at ``q`` scores ``s = sum_j lo_k[j, b_{q+j}]`` with the
integer log-odds ``lo_k`` of :meth:`Motif.quantised_log_odds` (the reverse strand:
the same sum over the reverse complement of the window). It is bound with probability
``sigmoid((s - theta_k) / tau)``, ``tau = SCORE_UNITS * temperature_bits``, and with
probability 0 where ``s < theta_k - occupancy_cutoff * tau``, where the window touches
N or runs past the end of the scanned codes. The occupancy ``O[k, c] = 1 - (1 - o+)(1 - o-)``
sits at the motif centre ``c = q + (L_k - 1) // 2``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from enformer_lite.data.sequence import N_CODE
from enformer_lite.simulate.motifs import SCORE_UNITS, background_threshold
from enformer_lite.simulate.oracle.params import OracleConfig, OracleParams


class MotifScanner:
    """The K motifs compiled for scanning: integer filters, thresholds and centres.

    Attributes:
        log_odds: K integer log-odds matrices (L_k, 4).
        thresholds: (K,) occupancy midpoints ``theta_k``: :func:`background_threshold` of
            ``log_odds[k]`` at ``insulator_p_value`` for the insulator, ``p_value`` for
            the others, never more than ``max_margin_bits`` below the best score.
        lengths: (K,) motif lengths L_k; ``max_len`` their maximum M.
        offsets: (K,) motif centre offsets ``(L_k - 1) // 2``.
        small_input: inputs with at most this many windows are scored by table look-up.
    """

    def __init__(self, params: OracleParams) -> None:
        cfg: OracleConfig = params.config
        self.config = cfg
        self.lengths = np.array([m.length for m in params.motifs])
        self.max_len = int(self.lengths.max())
        self.offsets = (self.lengths - 1) // 2
        log_odds = [m.quantised_log_odds(cfg.pseudo, cfg.background) for m in params.motifs]
        p_values = [cfg.insulator_p_value if m.name == cfg.insulator else cfg.p_value for m in params.motifs]
        self.thresholds = np.array(
            [background_threshold(q, p, cfg.max_margin_bits, cfg.background) for q, p in zip(log_odds, p_values)]
        )
        filters = np.zeros((2 * len(log_odds), 4, self.max_len), dtype=np.float32)
        for k, q in enumerate(log_odds):
            filters[2 * k, :, : q.shape[0]] = q.T
            filters[2 * k + 1, :, : q.shape[0]] = q[::-1, ::-1].T  # reverse complement
        self.filters = torch.from_numpy(filters)
        # the same weights as a look-up table (2K, M, 5) with a zero column for N
        self.table = np.concatenate(
            [filters.transpose(0, 2, 1), np.zeros((filters.shape[0], self.max_len, 1), np.float32)], axis=2
        )
        self.small_input = 16_384
        self.log_odds = log_odds

    def scores(self, padded: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Integer log-odds scores (2K, n - max_len + 1) of every motif (rows 2k: forward,
        2k+1: reverse strand) starting at each position of ``padded`` (n,); N scores 0.

        Long inputs use a convolution, short ones a table look-up (the convolution's
        set-up cost dominates there); both give the same exact integers.
        """
        n_out = padded.shape[0] - self.max_len + 1
        if n_out <= self.small_input:
            windows = np.lib.stride_tricks.sliding_window_view(padded, self.max_len)[:n_out]  # (n, M)
            return self.table[:, np.arange(self.max_len), windows].sum(axis=2)  # (2K, n)
        onehot = np.zeros((4, padded.shape[0]), dtype=np.float32)
        valid = padded < N_CODE
        onehot[padded[valid], np.flatnonzero(valid)] = 1.0
        with torch.no_grad():
            out = torch.nn.functional.conv1d(torch.from_numpy(onehot)[None], self.filters)[0]
        return out.numpy()

    def occupancy(self, ext: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """Motif occupancy O at motif centres, shape (K, n) for codes ``ext`` (n,).

        Windows that touch N or run past the end of ``ext`` are unbound, and so is a
        strand scoring below ``theta_k - occupancy_cutoff * tau``.
        """
        cfg = self.config
        n = ext.shape[0]
        n_motifs = len(self.lengths)
        padded = np.concatenate([ext, np.full(self.max_len, N_CODE, np.uint8)])
        scores = self.scores(padded)[:, :n]  # (2K, n) exact integers
        units = SCORE_UNITS * cfg.temperature_bits
        # Keep only strands close enough to the midpoint to matter.
        floor = np.repeat(self.thresholds - cfg.occupancy_cutoff * units, 2)
        channel, start = np.nonzero(scores >= floor[:, None])
        hit_scores = scores[channel, start].astype(np.float64)
        motif = channel // 2
        n_count = np.concatenate([[0], np.cumsum(padded == N_CODE)])
        clean = n_count[start + self.lengths[motif]] == n_count[start]
        channel, start, motif, hit_scores = channel[clean], start[clean], motif[clean], hit_scores[clean]
        bound = 1.0 / (1.0 + np.exp(-(hit_scores - self.thresholds[motif]) / units))
        centre = start + self.offsets[motif]
        inside = centre < n
        out = np.zeros((n_motifs, n))
        for strand in (0, 1):
            pick = inside & (channel % 2 == strand)
            k, c = motif[pick], centre[pick]
            # (k, c) pairs are unique within a strand; combine strands as 1 - (1-o+)(1-o-)
            out[k, c] = 1.0 - (1.0 - out[k, c]) * (1.0 - bound[pick])
        return out
