"""Genes whose TSS falls in the target bins of a variant's window."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from enformer_lite.data.genes import read_genes
from enformer_lite.data.geometry import WindowGeometry


@dataclass(frozen=True)
class GenesInWindow:
    """Genes found in one window: row indices into the index, TSS positions and target bins, each (G,)."""

    rows: npt.NDArray[np.int64]
    tss: npt.NDArray[np.int64]
    bins: npt.NDArray[np.int64]


class TSSIndex:
    """TSS positions per chromosome (FASTA names), sorted, for range look-ups.

    Attributes:
        gene_id, strand: (G,) per gene, in index row order.
    """

    def __init__(self, chrom: npt.ArrayLike, tss: npt.ArrayLike, gene_id: npt.ArrayLike, strand: npt.ArrayLike) -> None:
        chrom_arr = np.asarray(chrom, dtype=str)
        order = np.lexsort((np.asarray(tss), chrom_arr))
        self.chrom = chrom_arr[order]
        self.tss = np.asarray(tss, dtype=np.int64)[order]
        self.gene_id = np.asarray(gene_id, dtype=str)[order]
        self.strand = np.asarray(strand, dtype=str)[order]
        names, first, counts = np.unique(self.chrom, return_index=True, return_counts=True)
        self._span = {str(n): (int(f), int(f + c)) for n, f, c in zip(names, first, counts)}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], sizes: Mapping[str, int]) -> TSSIndex:
        """Genes of a BED/GTF/GFF3 (:func:`~enformer_lite.data.genes.read_genes`), named as in the FASTA
        (``sizes``: its chromosome sizes); genes it cannot place are skipped and logged there."""
        genes = read_genes(path, sizes)
        return cls(
            genes["chrom"].astype(str).to_numpy(),
            genes["tss"].to_numpy(),
            genes["gene_id"].astype(str).to_numpy(),
            genes["strand"].astype(str).to_numpy(),
        )

    def __len__(self) -> int:
        return len(self.tss)

    def in_target(self, chrom: str, window_start: int, geometry: WindowGeometry) -> GenesInWindow:
        """Genes whose TSS lies in the target bins of the window of ``geometry`` starting at ``window_start``.

        That is ``target_start <= TSS < target_start + target_span``; ``bins`` are target-bin indices.
        """
        target_start = geometry.target_start(window_start)
        a, b = self._span.get(chrom, (0, 0))
        lo, hi = np.searchsorted(self.tss[a:b], [target_start, target_start + geometry.target_span])
        rows = np.arange(a + lo, a + hi, dtype=np.int64)
        tss = self.tss[rows]
        return GenesInWindow(rows, tss, (tss - target_start) // geometry.bin_size)
