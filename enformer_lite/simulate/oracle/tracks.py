"""Per-base and binned expected tracks from the oracle's fields.

Per base p (``[not N]`` is 0 at N, 1 elsewhere):

- DNASE / ATAC of cell type c: ``(dnase_background + dnase_scale * D_c(p)) * [not N]``;
- CHIP of TF k: ``(chip_background + chip_scale * g * S_k(p)) * [not N]`` with
  ``g = 1`` for the insulator, else ``g = max(A[c, k], 0)``;
- CAGE: ``cage_background * share * [not N]`` plus the peak (:mod:`.expression`) of every
  gene on the track's strand (every gene for an unstranded track), ``share`` 1 for an
  unstranded track and 1/2 for each of a stranded pair.

A binned track sums the per-base values over each bin (the last bin may be partial).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from enformer_lite.simulate.oracle.expression import add_cage_peaks, tss_kernel
from enformer_lite.simulate.oracle.fields import Fields
from enformer_lite.simulate.oracle.params import OracleParams


class TrackRenderer:
    """Turns fields and per-gene CAGE into the T tracks of :attr:`OracleParams.tracks`.

    Attributes:
        cell_index: cell-type name -> row c.
        tss_kernel: (2 tss_half_width + 1,) CAGE peak weights.
    """

    def __init__(self, params: OracleParams, chip_targets: list[int], insulator: int) -> None:
        self.params = params
        self.config = params.config
        self.chip_targets = chip_targets
        self.insulator = insulator
        self.tss_kernel = tss_kernel(self.config.tss_half_width)
        self.cell_index = {c: i for i, c in enumerate(params.cell_types)}

    def base_tracks(
        self,
        fields: Fields,
        start: int,
        tss: npt.NDArray[np.int64],
        strand: npt.NDArray[np.int8],
        cage: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Expected per-base tracks (n, T) for ``fields`` covering [start, start + n).

        ``tss``/``strand``/``cage`` (G,), (G,), (G, C) describe the genes whose CAGE
        peaks may fall inside the stretch (others are ignored by position).
        """
        cfg = self.config
        n = len(fields)
        not_n = fields.not_n.astype(np.float64)
        out = np.empty((n, len(self.params.tracks)))
        hw = cfg.tss_half_width
        near = (tss >= start - hw) & (tss < start + n + hw)
        for j, track in enumerate(self.params.tracks):
            c = self.cell_index[track.cell_type]
            if track.assay in ("DNASE", "ATAC"):
                out[:, j] = (cfg.dnase_background + cfg.dnase_scale * fields.access[c]) * not_n
            elif track.assay == "CHIP":
                k = self.params.tf_names.index(track.target)
                gain = 1.0 if k == self.insulator else max(float(self.params.activity[c, k]), 0.0)
                out[:, j] = (
                    cfg.chip_background + cfg.chip_scale * gain * fields.chip[self.chip_targets.index(k)]
                ) * not_n
            else:
                share = 1.0 if track.strand == "." else 0.5
                col = cfg.cage_background * share * not_n
                want = near if track.strand == "." else near & (strand == (1 if track.strand == "+" else -1))
                add_cage_peaks(col, start, tss[want], cage[want, c], self.tss_kernel)
                out[:, j] = col
        return out


def bin_sum(values: npt.NDArray[np.float64], bin_size: int) -> npt.NDArray[np.float64]:
    """Sum (n, T) per-base values into (ceil(n / bin_size), T) bins."""
    n = values.shape[0]
    n_bins = math.ceil(n / bin_size)
    padded = np.zeros((n_bins * bin_size, values.shape[1]))
    padded[:n] = values
    return padded.reshape(n_bins, bin_size, values.shape[1]).sum(axis=1)
