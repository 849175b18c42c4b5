"""Per-base oracle fields (dense over a stretch, or sparse: only where they are non-zero)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(eq=False)
class Fields:
    """Per-base oracle fields over a stretch of n bases.

    Attributes:
        enhancer: (C, n) float32 element activity E_c.
        access: (C, n) float32 accessibility D_c.
        chip: (J, n) float32 smoothed occupancy S_k of the ChIP targets (and the insulator),
            in the order of :attr:`Oracle.chip_targets`.
        insulation: (n,) float64 ``-log(1 - block * O_ins)`` per base.
        not_n: (n,) bool, False at N.
    """

    enhancer: npt.NDArray[np.float32]
    access: npt.NDArray[np.float32]
    chip: npt.NDArray[np.float32]
    insulation: npt.NDArray[np.float64]
    not_n: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.not_n.shape[0])

    @staticmethod
    def concatenate(parts: list[Fields]) -> Fields:
        """The fields of consecutive stretches, joined along the base axis."""
        return Fields(
            np.concatenate([p.enhancer for p in parts], axis=1),
            np.concatenate([p.access for p in parts], axis=1),
            np.concatenate([p.chip for p in parts], axis=1),
            np.concatenate([p.insulation for p in parts]),
            np.concatenate([p.not_n for p in parts]),
        )

    def slice(self, start: int, stop: int) -> Fields:
        """Fields of bases [start, stop) of this stretch (views, not copies)."""
        return Fields(
            self.enhancer[:, start:stop],
            self.access[:, start:stop],
            self.chip[:, start:stop],
            self.insulation[start:stop],
            self.not_n[start:stop],
        )


@dataclass(eq=False)
class SparseFields:
    """The non-zero part of the fields that gene inputs need, in sequence coordinates.

    Attributes:
        active: (m,) sorted positions where any cell type has E > 0.
        enhancer: (C, m) float32 E at those positions.
        sites: (k,) sorted positions with insulation > 0.
        insulation: (k,) float64 insulation at those positions.
    """

    active: npt.NDArray[np.int64]
    enhancer: npt.NDArray[np.float32]
    sites: npt.NDArray[np.int64]
    insulation: npt.NDArray[np.float64]

    @classmethod
    def from_fields(cls, fields: Fields, offset: int = 0) -> SparseFields:
        """The non-zero entries of dense ``fields`` whose first base is at ``offset``."""
        active = np.flatnonzero(fields.enhancer.any(axis=0))
        sites = np.flatnonzero(fields.insulation)
        return cls(active + offset, fields.enhancer[:, active], sites + offset, fields.insulation[sites])

    def window(self, a: int, b: int, shift: int = 0) -> SparseFields:
        """Entries with position in [a, b), positions moved by ``shift``."""
        i, j = np.searchsorted(self.active, [a, b])
        k, m = np.searchsorted(self.sites, [a, b])
        return SparseFields(
            self.active[i:j] + shift, self.enhancer[:, i:j], self.sites[k:m] + shift, self.insulation[k:m]
        )

    @staticmethod
    def concatenate(parts: list[SparseFields]) -> SparseFields:
        """Entries of consecutive, non-overlapping windows, in order."""
        return SparseFields(
            np.concatenate([p.active for p in parts]),
            np.concatenate([p.enhancer for p in parts], axis=1),
            np.concatenate([p.sites for p in parts]),
            np.concatenate([p.insulation for p in parts]),
        )
