"""The one window geometry every stage shares: ``window_length`` bp in, ``target_length`` bins out.

A window of ``window_length`` bp is cut into ``n_bins = window_length // bin_size`` bins;
the model predicts the central ``target_length`` of them, so ``crop`` bins are cut from
each side. All coordinates are 0-based and half-open.

Two ways of placing a window around a point are used by the later stages:

- centred on a *bin* (:meth:`WindowGeometry.window_around_bin`): the point sits in the
  middle of bin ``n_bins // 2`` at offset ``bin_size // 2``, so a gene's TSS signal always
  falls into the same bins (contributions);
- centred on a *grid point* (:meth:`WindowGeometry.window_around`): the point's grid
  cell centre sits at index ``window_length // 2``; with ``grid = 1`` exactly the point
  (the Enformer convention for variants), a coarser grid lets nearby points share a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from enformer_lite.errors import InputError


@dataclass(frozen=True)
class WindowGeometry:
    """Input/output geometry of the model and of every ``data.h5``."""

    window_length: int
    bin_size: int
    target_length: int

    def __post_init__(self) -> None:
        if self.window_length <= 0 or self.bin_size <= 0 or self.target_length <= 0:
            raise InputError("window geometry: window_length, bin_size and target_length must be positive")
        extra = self.window_length // self.bin_size - self.target_length
        if self.window_length % self.bin_size or extra < 0 or extra % 2:
            raise InputError(
                f"window geometry: length {self.window_length} / bin size {self.bin_size} must give a whole number of "
                f"bins that crops equally on both sides to {self.target_length}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> WindowGeometry:
        """From any mapping with ``window_length``, ``bin_size`` and ``target_length`` (HDF5 attrs, checkpoint meta)."""
        return cls(int(values["window_length"]), int(values["bin_size"]), int(values["target_length"]))

    def to_dict(self) -> dict[str, int]:
        return {"window_length": self.window_length, "bin_size": self.bin_size, "target_length": self.target_length}

    @property
    def n_bins(self) -> int:
        """Bins over the whole input (uncropped)."""
        return self.window_length // self.bin_size

    @property
    def crop(self) -> int:
        """Bins cut from each side before the output."""
        return (self.n_bins - self.target_length) // 2

    @property
    def crop_bp(self) -> int:
        """bp between the window start and the first target bin."""
        return self.crop * self.bin_size

    @property
    def target_span(self) -> int:
        """bp covered by the target bins."""
        return self.target_length * self.bin_size

    def target_start(self, window_start: int) -> int:
        """Genome position of the first target bin of the window starting at ``window_start``."""
        return window_start + self.crop_bp

    # -- a window centred on one bin (TSS-centred gene windows) --------------------------------

    @property
    def centre_bin(self) -> int:
        """Uncropped bin at the window centre, ``n_bins // 2``."""
        return self.n_bins // 2

    @property
    def centre_offset(self) -> int:
        """Position inside the window of the middle of :attr:`centre_bin`."""
        return self.centre_bin * self.bin_size + self.bin_size // 2

    def window_around_bin(self, position: int) -> int:
        """Start of the window that puts ``position`` in the middle of :attr:`centre_bin`."""
        return position - self.centre_offset

    def centre_bins(self, flank: int) -> npt.NDArray[np.int64]:
        """Uncropped bins :attr:`centre_bin` ± ``flank``, shape (2 * flank + 1,); InputError past the output bins."""
        bins = np.arange(self.centre_bin - flank, self.centre_bin + flank + 1, dtype=np.int64)
        if bins[0] < self.crop or bins[-1] >= self.crop + self.target_length:
            raise InputError(f"tss_flank_bins={flank} reaches past the {self.target_length} output bins")
        return bins

    # -- a window centred on a grid point (variants) -------------------------------------------

    def window_around(self, position: int, grid: int = 1) -> int:
        """Start of the window centred on the grid point nearest to ``position``.

        ``centre = floor((position + grid // 2) / grid) * grid``, ``start = centre - window_length // 2``.
        """
        centre = (position + grid // 2) // grid * grid
        return centre - self.window_length // 2
