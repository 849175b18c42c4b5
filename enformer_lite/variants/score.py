"""Scoring the alleles of a VCF (or one chunk of it) with a trained model into an HDF5 score file.

A chunk is a set of genomic regions read through the VCF's index (:mod:`~enformer_lite.variants.chunks`);
a VCF without index is read in one linear pass (one chunk only).
:func:`score_vcf` streams the selected records through :class:`BlockScorer` in blocks of
``block_size`` alleles: predictions (:mod:`~enformer_lite.variants.engine`), the tracks'
original scale (:class:`~enformer_lite.inference.signal.Untransform`, unit ``native``), allele
and per-gene scores (:mod:`~enformer_lite.variants.scores`), appended to the score file
(:mod:`~enformer_lite.variants.store`). The command is ``enformer-lite score-variants``
(:mod:`enformer_lite.cli.score_variants`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyfaidx

from enformer_lite.atomic import atomic_output
from enformer_lite.data.fasta import chrom_sizes, open_fasta
from enformer_lite.errors import InputError
from enformer_lite.inference.signal import Untransform
from enformer_lite.inference.trained import TrainedModel
from enformer_lite.inference.tta import TTAConfig
from enformer_lite.variants.alleles import Allele, AlleleReader, RegionFilter, Skip, selected_records
from enformer_lite.variants.chunks import ChunkReader, contig_counts, index_file, limit_stop, plan_chunks
from enformer_lite.variants.config import ScoreConfig, parse_region
from enformer_lite.variants.engine import Predictor, predict_pairs
from enformer_lite.variants.layout import WindowLayout
from enformer_lite.variants.scores import allele_scores, gene_scores
from enformer_lite.variants.store import ScoreWriter, allele_columns, skip_columns
from enformer_lite.variants.tss import TSSIndex

log = logging.getLogger(__name__)


@dataclass
class BlockScores:
    """Scores of one block of alleles, rows in the block's (VCF) order.

    Attributes:
        scores: (N, 4, T) allele scores; window_starts: (N,).
        gene_columns: variant–gene columns (M,) with ``allele`` = row in the block.
        gene_values: (M, 2, Tg) per-gene scores.
    """

    scores: npt.NDArray[np.float32]
    window_starts: npt.NDArray[np.int64]
    gene_columns: dict[str, list[Any]]
    gene_values: npt.NDArray[np.float32]


class BlockScorer:
    """Scores blocks of alleles with ``trained``: predictions, original scale, allele and gene scores.

    Attributes:
        layout: the model's window geometry with the centring grid ``cfg.grid``.
        gene_tracks: (Tg,) indices of the tracks that get per-gene scores (none without ``genes``);
            a stranded track (``+``/``-``) is scored only for genes on its strand, NaN for the others.
    """

    def __init__(self, fasta: pyfaidx.Fasta, trained: TrainedModel, cfg: ScoreConfig, genes: TSSIndex | None = None) -> None:
        self.fasta = fasta
        self.cfg = cfg
        self.layout = WindowLayout(trained.geometry, cfg.grid)
        self.tracks = trained.tracks
        self.scale = Untransform(trained.tracks, "native", trained.geometry.bin_size)
        self.genes = genes
        selected = [t.index for t in trained.tracks if not cfg.gene_assays or t.assay in cfg.gene_assays]
        self.gene_tracks = np.asarray(selected if genes is not None else [], dtype=np.intp)
        self._gene_track_strand = np.array([trained.tracks[i].strand for i in self.gene_tracks], dtype=str)
        self.predictor = Predictor(trained, TTAConfig(cfg.reverse_complement, cfg.shifts))

    def score(self, alleles: Sequence[Allele]) -> BlockScores:
        """Scores of ``alleles``, one row each in the given order."""
        n, n_tracks = len(alleles), len(self.tracks)
        scores = np.zeros((n, 4, n_tracks), dtype=np.float32)
        window_starts = np.zeros(n, dtype=np.int64)
        gene_cols: dict[str, list[Any]] = {k: [] for k in ("allele", "gene_id", "strand", "tss", "distance", "bin")}
        gene_vals: list[npt.NDArray[np.float32]] = []
        raw_ref, ref = None, None
        for pair in predict_pairs(alleles, self.fasta, self.layout, self.predictor, self.cfg.batch_size):
            if pair.ref is not raw_ref:
                raw_ref, ref = pair.ref, self.scale(pair.ref)
            alt = self.scale(pair.alt)
            scores[pair.index] = allele_scores(ref, alt)
            window_starts[pair.index] = pair.window_start
            if self.genes is not None and len(self.gene_tracks):
                self._add_genes(alleles[pair.index], pair.index, pair.window_start, ref, alt, gene_cols, gene_vals)
        order = np.argsort(np.asarray(gene_cols["allele"], dtype=np.int64), kind="stable")
        gene_cols = {k: [v[i] for i in order] for k, v in gene_cols.items()}
        values = np.concatenate(gene_vals)[order] if gene_vals else np.zeros((0, 2, len(self.gene_tracks)), np.float32)
        return BlockScores(scores, window_starts, gene_cols, values)

    def _add_genes(
        self,
        allele: Allele,
        row: int,
        window_start: int,
        ref: npt.NDArray[np.float32],
        alt: npt.NDArray[np.float32],
        cols: dict[str, list[Any]],
        values: list[npt.NDArray[np.float32]],
    ) -> None:
        assert self.genes is not None
        found = self.genes.in_target(allele.chrom, window_start, self.layout.geometry)
        if not len(found.rows):
            return
        scores = gene_scores(ref[:, self.gene_tracks], alt[:, self.gene_tracks], found.bins, self.cfg.tss_half_bins)
        # a stranded track scores only genes on its own strand; the other strand's rows are NaN (NA)
        gene_strand = self.genes.strand[found.rows][:, None]
        track_strand = self._gene_track_strand[None, :]
        other = np.isin(track_strand, ("+", "-")) & (track_strand != gene_strand)
        scores[np.broadcast_to(other[:, None, :], scores.shape)] = np.nan
        values.append(scores)
        cols["allele"].extend([row] * len(found.rows))
        cols["gene_id"].extend(self.genes.gene_id[found.rows].tolist())
        cols["strand"].extend(self.genes.strand[found.rows].tolist())
        cols["tss"].extend(found.tss.tolist())
        downstream = np.where(self.genes.strand[found.rows] == "-", -1, 1)  # along the gene's transcription
        cols["distance"].extend(((allele.start - found.tss) * downstream).tolist())
        cols["bin"].extend(found.bins.tolist())


class _Records:
    """The records a scoring job reads: its chunk's regions through the index, or the whole file in one pass.

    Iterating yields ``(record number, record)`` of the selected records; ``n_records`` (records
    covered) and ``records_read`` are complete afterwards, ``regions`` describes what was read.
    """

    def __init__(self, vcf: str | os.PathLike[str], cfg: ScoreConfig, reader: AlleleReader, chunk: int, n_chunks: int) -> None:
        if not 0 <= chunk < n_chunks:
            raise InputError(f"--chunk {chunk}: must lie in 0..{n_chunks - 1}")
        self.vcf, self.cfg = vcf, cfg
        self.chunk: ChunkReader | None = None
        self.n_records = self.records_read = 0
        self.regions = ["whole file"]
        if index_file(vcf) is None:
            if n_chunks > 1:
                raise InputError(
                    f"{vcf}: chunked scoring (--n-chunks {n_chunks}) reads each chunk's regions through a tabix/CSI "
                    "index, and this VCF has none. Score it in one chunk, or index a bgzipped copy (the file itself "
                    "is left alone): enformer-lite score-variants --vcf IN --index-copy COPY.vcf.gz, then --vcf COPY.vcf.gz"
                )
            return
        counts = contig_counts(vcf)
        wanted = RegionFilter(parse_region(r) for r in cfg.regions) if cfg.regions else None
        stop = limit_stop(vcf, counts, wanted, cfg.limit)
        lengths = {c.name: reader.sizes[f] for c in counts if (f := reader.fasta_chrom(c.name)) is not None}
        segments = plan_chunks(counts, n_chunks, wanted, lengths, stop)[chunk]
        self.chunk = ChunkReader(vcf, segments, wanted, stop)
        self.regions = [str(s) for s in segments]
        log.info("%s: chunk %d/%d reads %s", vcf, chunk + 1, n_chunks, ", ".join(self.regions) or "nothing")

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        if self.chunk is not None:
            yield from self.chunk
            self.n_records, self.records_read = self.chunk.n_records, self.chunk.records_read
            return
        for index, variant in selected_records(self.vcf, self.cfg):
            self.n_records = self.records_read = index + 1
            yield index, variant


def _blocks(items: Iterable[Allele | Skip], size: int) -> Iterator[tuple[list[Allele], list[Skip]]]:
    alleles: list[Allele] = []
    skips: list[Skip] = []
    for item in items:
        if isinstance(item, Allele):
            alleles.append(item)
        else:
            skips.append(item)
        if len(alleles) >= size:
            yield alleles, skips
            alleles, skips = [], []
    if alleles or skips:
        yield alleles, skips


def score_vcf(
    vcf: str | os.PathLike[str],
    fasta_path: str | os.PathLike[str],
    trained: TrainedModel,
    out: str | os.PathLike[str],
    cfg: ScoreConfig | None = None,
    genes_bed: str | os.PathLike[str] | None = None,
    chunk: int = 0,
    n_chunks: int = 1,
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score chunk ``chunk`` of ``n_chunks`` of ``vcf`` with ``trained`` into the HDF5 score file ``out``.

    A chunk is a set of genomic regions read through the VCF's index
    (:mod:`~enformer_lite.variants.chunks`); its ``record`` numbers count from the chunk's first
    record (the VCF's own numbers for chunk 0 and for a single chunk), and the attributes
    ``chunk``, ``n_chunks``, ``n_records`` (records covered) and ``chunk_regions`` let
    ``gather-variants`` renumber. ``genes_bed`` (BED6 TSSs) adds per-gene scores; ``attrs`` are
    further file attributes. Returns a summary (alleles read, scored, skipped per reason,
    sequences predicted, records covered and read, seconds). ``out`` appears only when complete.
    """
    cfg = cfg or ScoreConfig()
    began = time.perf_counter()
    fasta = open_fasta(fasta_path)
    genes = TSSIndex.from_file(genes_bed, chrom_sizes(fasta)) if genes_bed else None
    if cfg.regions or cfg.limit:
        log.info("%s: records restricted to regions %s, limit %s", vcf, list(cfg.regions) or "all", cfg.limit or "none")
    scorer = BlockScorer(fasta, trained, cfg, genes)
    reader = AlleleReader(fasta, cfg, str(vcf))
    records = _Records(vcf, cfg, reader, chunk, n_chunks)
    file_attrs = {
        "head": trained.head,
        **trained.geometry.to_dict(),
        "grid": cfg.grid,
        "settings": json.dumps(asdict(cfg), sort_keys=True, default=list),
        "vcf": str(vcf),
        **(attrs or {}),
    }
    with atomic_output(out) as tmp, ScoreWriter(tmp, trained.tracks, scorer.gene_tracks, file_attrs) as writer:
        for alleles, skips in _blocks(reader.read(records), cfg.block_size):
            first_row = writer.n_alleles
            block = scorer.score(alleles)
            writer.add_alleles(allele_columns(alleles, block.window_starts.tolist()), block.scores)
            writer.add_skips(skip_columns(skips))
            block.gene_columns["allele"] = [first_row + i for i in block.gene_columns["allele"]]
            writer.add_genes(block.gene_columns, block.gene_values)
            log.info("%d alleles scored so far (%d sequences predicted)", writer.n_alleles, scorer.predictor.n_sequences)
        writer.file.attrs.update({"chunk": chunk, "n_chunks": n_chunks, "n_records": records.n_records,
                                  "chunk_regions": json.dumps(records.regions)})
    seconds = time.perf_counter() - began
    scored = reader.n_alleles - sum(reader.skipped.values())
    log.info("%s: %s", vcf, reader.summary())
    log.info(
        "%d sequences predicted for %d alleles (%.2f per allele, %d TTA passes each) in %.1f s",
        scorer.predictor.n_sequences, scored, scorer.predictor.n_sequences / max(1, scored),
        scorer.predictor.tta.n_passes, seconds,
    )
    return {
        "alleles": reader.n_alleles,
        "scored": scored,
        "skipped": dict(reader.skipped),
        "sequences": scorer.predictor.n_sequences,
        "records": records.n_records,
        "records_read": records.records_read,
        "seconds": seconds,
    }
