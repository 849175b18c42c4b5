"""Genes, candidate elements and the TSS-centred window each gene is scored in.

Coordinates are 0-based and half-open throughout. A gene's window has the model's
input length and puts the TSS in the middle of bin ``n_bins // 2`` (at offset
``bin_size // 2`` inside it), so the TSS bins are the same for every gene and the
TSS signal is not split between two bins by where the TSS falls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from enformer_lite.data.candidates import ELEMENT_COLUMNS
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.errors import InputError
from enformer_lite.data.fasta import resolve_chrom

log = logging.getLogger(__name__)

def harmonise_chroms(frame: pd.DataFrame, sizes: dict[str, int], what: str) -> pd.DataFrame:
    """Rename ``chrom`` to the FASTA's spelling (chr1 ↔ 1, chrM ↔ MT); rows on unknown chromosomes
    are dropped and counted in the log."""
    mapping = {name: resolve_chrom(name, sizes) for name in frame["chrom"].unique()}
    missing = sorted(name for name, found in mapping.items() if found is None)
    if missing:
        n = int(frame["chrom"].isin(missing).sum())
        log.warning("%s: skipped %d row(s) on chromosome(s) not in the FASTA: %s", what, n, ", ".join(missing[:10]))
    out = frame.assign(chrom=frame["chrom"].map(mapping))
    return out[out["chrom"].notna()].reset_index(drop=True)


def select_genes(
    genes: pd.DataFrame, ids: tuple[str, ...] = (), chroms: tuple[str, ...] = (), max_genes: int = 0, source: str = "genes"
) -> pd.DataFrame:
    """Genes to score, in BED order: only ``ids`` (all must exist), only on ``chroms``, then at most
    ``max_genes`` spread evenly over the rest (0 = all)."""
    chosen = genes
    if ids:
        unknown = sorted(set(ids) - set(genes["gene_id"]))
        if unknown:
            raise InputError(f"{source}: contributions.genes names unknown gene(s) {', '.join(unknown[:10])}")
        chosen = chosen[chosen["gene_id"].isin(ids)]
    if chroms:
        chosen = chosen[chosen["chrom"].isin(chroms)]
    if max_genes and len(chosen) > max_genes:
        picks = np.unique(np.linspace(0, len(chosen) - 1, max_genes).round().astype(int))
        chosen = chosen.iloc[picks]
    return chosen.reset_index(drop=True)


def chunk_rows(frame: pd.DataFrame, chunk: int, n_chunks: int) -> pd.DataFrame:
    """Rows of chunk ``chunk`` of ``n_chunks`` contiguous, near-equal slices (order kept)."""
    if not 0 <= chunk < n_chunks:
        raise InputError(f"chunk {chunk} is outside 0..{n_chunks - 1}")
    bounds = np.linspace(0, len(frame), n_chunks + 1).round().astype(int)
    return frame.iloc[bounds[chunk] : bounds[chunk + 1]].reset_index(drop=True)


@dataclass(frozen=True)
class GenePlan:
    """One gene, its window and the candidate elements scored for it.

    Attributes:
        gene, chrom, tss, strand: from the genes BED (chrom as in the FASTA).
        window_start: genomic start of the input window (may be < 0: N-padded).
        elements: columns element, start, end (genomic), rel_start, rel_end (in the window),
            distance (|element centre - TSS|, centre = (start + end) // 2).
    """

    gene: str
    chrom: str
    tss: int
    strand: str
    window_start: int
    elements: pd.DataFrame


class ElementIndex:
    """Candidate elements per chromosome, sorted, for fast window queries."""

    def __init__(self, elements: pd.DataFrame) -> None:
        self._by_chrom = {
            chrom: group.sort_values(["start", "end"]).reset_index(drop=True) for chrom, group in elements.groupby("chrom")
        }

    def plan(self, gene: pd.Series, geometry: WindowGeometry) -> tuple[GenePlan, int]:
        """The gene's plan and the number of elements skipped because they stick out of the window.

        Only elements entirely inside the input window are scored: the model cannot see the rest.
        """
        tss = int(gene["tss"])
        start = geometry.window_around_bin(tss)
        end = start + geometry.window_length
        table = self._by_chrom.get(gene["chrom"])
        if table is None:
            inside, partial = pd.DataFrame(columns=ELEMENT_COLUMNS), 0
        else:
            overlapping = table[(table["end"] > start) & (table["start"] < end)]
            fully = (overlapping["start"] >= start) & (overlapping["end"] <= end)
            inside, partial = overlapping[fully], int((~fully).sum())
        centre = (inside["start"].to_numpy() + inside["end"].to_numpy()) // 2
        elements = pd.DataFrame(
            {
                "element": inside["element"].to_numpy(dtype=object),
                "start": inside["start"].to_numpy(dtype=np.int64),
                "end": inside["end"].to_numpy(dtype=np.int64),
                "rel_start": inside["start"].to_numpy(dtype=np.int64) - start,
                "rel_end": inside["end"].to_numpy(dtype=np.int64) - start,
                "distance": np.abs(centre - tss).astype(np.int64),
            }
        )
        plan = GenePlan(str(gene["gene_id"]), str(gene["chrom"]), tss, str(gene["strand"]), start, elements)
        return plan, partial


def bin_overlap_sum(values: npt.NDArray[np.floating], rel_start: int, rel_end: int, bin_size: int) -> float:
    """Sum over the bins an element overlaps of ``values[bin]`` times the overlapped fraction of the bin.

    ``values`` (n_bins,) per uncropped bin; NaN bins make the result NaN.
    """
    first, last = rel_start // bin_size, (rel_end - 1) // bin_size
    bins = np.arange(first, last + 1)
    overlap = np.minimum(rel_end, (bins + 1) * bin_size) - np.maximum(rel_start, bins * bin_size)
    return float(np.sum(values[bins] * overlap) / bin_size)
