"""``enformer-lite score-variants``: score the alleles of a VCF (or one chunk of it) with a trained model.

With ``--part`` only the HDF5 score file of the chosen chunk is written (the workflow
scatters a VCF over ``--n-chunks`` jobs and gathers them with ``gather-variants``); with
``--out-prefix`` the whole VCF is scored and every output is written (see
:mod:`enformer_lite.variants.outputs`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyfaidx
import torch
from torch import nn

from enformer_lite.atomic import atomic_output
from enformer_lite.errors import InputError
from enformer_lite.genome import open_fasta
from enformer_lite.tracks import TrackSpec, tracks_from_json
from enformer_lite.training.cli_common import settings_from_args
from enformer_lite.training.inference import TTAConfig, resolve_device
from enformer_lite.training.module import ModelBuilder, load_model
from enformer_lite.variants.alleles import Allele, AlleleReader, Skip, count_records, selected_records
from enformer_lite.variants.config import ScoreConfig
from enformer_lite.variants.engine import Predictor, predict_pairs
from enformer_lite.variants.layout import WindowLayout
from enformer_lite.variants.scores import OriginalScale, allele_scores, gene_scores
from enformer_lite.variants.store import ScoreWriter, allele_columns, skip_columns
from enformer_lite.variants.tss import TSSIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringModel:
    """A model head with the geometry and tracks table it was trained with."""

    model: nn.Module
    head: str
    tracks: tuple[TrackSpec, ...]
    window_length: int
    bin_size: int
    target_length: int

    @property
    def strand_pair(self) -> npt.NDArray[np.intp]:
        """(T,) index of each track's opposite-strand partner."""
        return np.array([t.strand_pair for t in self.tracks], dtype=np.intp)

    def layout(self, grid: int) -> WindowLayout:
        return WindowLayout(self.window_length, self.bin_size, self.target_length, grid)


def load_scoring_model(
    checkpoint: str | os.PathLike[str], head: str, device: torch.device, builder: ModelBuilder | None = None
) -> ScoringModel:
    """Model head ``head`` of a training checkpoint, with its tracks and window geometry."""
    model, meta = load_model(checkpoint, map_location=device, builder=builder)
    track_ids = meta.get("track_ids") or {}
    data = (meta.get("data_meta") or {}).get(head)
    if head not in track_ids or not data:
        raise InputError(f"{checkpoint}: model has no head {head!r} (heads: {', '.join(sorted(track_ids)) or 'none'})")
    tracks_value = data["tracks"]
    tracks = tracks_from_json(tracks_value) if isinstance(tracks_value, str) else [TrackSpec(**t) for t in tracks_value]
    if len(tracks) != len(track_ids[head]):
        raise InputError(f"{checkpoint}: head {head!r} predicts {len(track_ids[head])} tracks but its table lists {len(tracks)}")
    return ScoringModel(model, head, tuple(tracks), int(data["window_length"]), int(data["bin_size"]), int(data["target_length"]))


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
    """Scores blocks of alleles: predictions, original scale, allele and gene scores."""

    def __init__(
        self,
        fasta: pyfaidx.Fasta,
        scoring: ScoringModel,
        cfg: ScoreConfig,
        genes: TSSIndex | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.fasta = fasta
        self.cfg = cfg
        self.layout = scoring.layout(cfg.grid)
        self.tracks = scoring.tracks
        self.scale = OriginalScale(scoring.tracks)
        self.genes = genes
        selected = [t.index for t in scoring.tracks if not cfg.gene_assays or t.assay in cfg.gene_assays]
        self.gene_tracks = np.asarray(selected if genes is not None else [], dtype=np.intp)
        tta = TTAConfig(cfg.reverse_complement, cfg.shifts)
        self.predictor = Predictor(scoring.model, scoring.head, scoring.strand_pair, tta, device or torch.device("cpu"))

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
        layout = self.layout
        found = self.genes.in_target(allele.chrom, layout.target_start(window_start), layout.bin_size, layout.target_length)
        if not len(found.rows):
            return
        values.append(gene_scores(ref[:, self.gene_tracks], alt[:, self.gene_tracks], found.bins, self.cfg.tss_half_bins))
        cols["allele"].extend([row] * len(found.rows))
        cols["gene_id"].extend(self.genes.gene_id[found.rows].tolist())
        cols["strand"].extend(self.genes.strand[found.rows].tolist())
        cols["tss"].extend(found.tss.tolist())
        cols["distance"].extend((found.tss - allele.start).tolist())
        cols["bin"].extend(found.bins.tolist())


def chunk_range(n_records: int, chunk: int, n_chunks: int) -> tuple[int, int]:
    """Record range [start, stop) of chunk ``chunk`` (0-based) of ``n_chunks`` equal contiguous chunks."""
    if not 0 <= chunk < n_chunks:
        raise InputError(f"--chunk {chunk}: must lie in 0..{n_chunks - 1}")
    return chunk * n_records // n_chunks, (chunk + 1) * n_records // n_chunks


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
    scoring: ScoringModel,
    out: str | os.PathLike[str],
    cfg: ScoreConfig | None = None,
    genes_bed: str | os.PathLike[str] | None = None,
    chunk: int = 0,
    n_chunks: int = 1,
    device: torch.device | None = None,
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score chunk ``chunk`` of ``n_chunks`` of ``vcf`` into the HDF5 score file ``out``.

    Returns a summary (records, alleles scored and skipped per reason, sequences predicted,
    seconds). ``out`` appears only when complete.
    """
    cfg = cfg or ScoreConfig()
    began = time.perf_counter()
    fasta = open_fasta(fasta_path)
    genes = TSSIndex.from_bed(genes_bed, list(fasta.keys())) if genes_bed else None
    start, stop = 0, None
    if n_chunks > 1:
        total = count_records(vcf, cfg)
        start, stop = chunk_range(total, chunk, n_chunks)
        log.info("%s: chunk %d/%d = selected records %d..%d of %d", vcf, chunk + 1, n_chunks, start + 1, stop, total)
    if cfg.regions or cfg.limit:
        log.info("%s: records restricted to regions %s, limit %s", vcf, list(cfg.regions) or "all", cfg.limit or "none")
    scorer = BlockScorer(fasta, scoring, cfg, genes, device)
    reader = AlleleReader(fasta, cfg, str(vcf))
    file_attrs = {
        "head": scoring.head,
        "window_length": scoring.window_length,
        "bin_size": scoring.bin_size,
        "target_length": scoring.target_length,
        "grid": cfg.grid,
        "settings": json.dumps(asdict(cfg), sort_keys=True, default=list),
        "vcf": str(vcf),
        **(attrs or {}),
    }
    with atomic_output(out) as tmp, ScoreWriter(tmp, scoring.tracks, scorer.gene_tracks, file_attrs) as writer:
        for alleles, skips in _blocks(reader.read(selected_records(vcf, cfg, start, stop)), cfg.block_size):
            first_row = writer.n_alleles
            block = scorer.score(alleles)
            writer.add_alleles(allele_columns(alleles, block.window_starts.tolist()), block.scores)
            writer.add_skips(skip_columns(skips))
            block.gene_columns["allele"] = [first_row + i for i in block.gene_columns["allele"]]
            writer.add_genes(block.gene_columns, block.gene_values)
            log.info("%d alleles scored so far (%d sequences predicted)", writer.n_alleles, scorer.predictor.n_sequences)
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
        "seconds": seconds,
    }


def parse_chrom_map(items: Sequence[str] | None) -> dict[str, str]:
    """``--chrom-map`` values: ``VCF=FASTA`` pairs, or a two-column TSV file of such pairs."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item and Path(item).is_file():
            for number, line in enumerate(Path(item).read_text().splitlines(), start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) != 2:
                    raise InputError(f"{item} line {number}: expected two tab-separated names (VCF, FASTA)")
                out[fields[0].strip()] = fields[1].strip()
            continue
        vcf_name, sep, fasta_name = item.partition("=")
        if not sep or not vcf_name or not fasta_name:
            raise InputError(f"--chrom-map {item!r}: expected VCF_NAME=FASTA_NAME or a two-column file")
        out[vcf_name] = fasta_name
    return out


def config_from_args(args: argparse.Namespace) -> ScoreConfig:
    """The ``variants`` settings of ``--params`` with command-line flags applied."""
    values = settings_from_args(args, "variants")
    for key in ("ref_mismatch", "grid", "limit", "block_size", "indels", "max_indel_length", "tss_half_bins"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if args.chrom_map:
        values["chrom_map"] = {**values.get("chrom_map", {}), **parse_chrom_map(args.chrom_map)}
    if args.gene_assays is not None:
        values["gene_assays"] = args.gene_assays
    if args.regions:
        values["regions"] = args.regions
    return ScoreConfig.from_dict(values)


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``enformer-lite score-variants``."""
    parser.add_argument("--vcf", required=True, help="VCF, plain or bgzipped")
    parser.add_argument("--fasta", required=True, help="reference FASTA the VCF refers to")
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (best.ckpt)")
    parser.add_argument("--head", required=True, help="model head (organism) to score with, e.g. human")
    parser.add_argument("--genes", help="BED6 TSS file; adds per-gene scores for genes in the target window")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out-prefix", help="write PREFIX.tsv.gz, .h5, .vcf.gz(+.tbi), .genes.tsv.gz, .skipped.tsv")
    out.add_argument("--part", help="write only this chunk's HDF5 score file (gather with gather-variants)")
    parser.add_argument("--chunk", type=int, default=0, help="0-based chunk to score (with --n-chunks)")
    parser.add_argument("--n-chunks", type=int, default=1, help="split the records into this many contiguous chunks")
    parser.add_argument("--params", metavar="JSON|FILE", help='settings {"variants": {...}} inline or as JSON/YAML file')
    parser.add_argument("--ref-mismatch", choices=("error", "skip", "flip"), help="REF differs from the FASTA (default skip)")
    parser.add_argument("--chrom-map", action="append", metavar="VCF=FASTA|FILE",
                        help="chromosome name mapping, repeatable, or a two-column TSV file")
    parser.add_argument("--indels", action=argparse.BooleanOptionalAction, default=None, help="score indels (default yes)")
    parser.add_argument("--max-indel-length", type=int, help="skip alleles longer than this (bp)")
    parser.add_argument("--grid", type=int, help="window centres on multiples of this (bp); 1 = centred on each variant")
    parser.add_argument("--region", action="append", dest="regions", metavar="CHROM[:START-END]",
                        help="score only records here (0-based, half-open); repeatable")
    parser.add_argument("--limit", type=int, help="score only the first N (selected) records (0 = all)")
    parser.add_argument("--block-size", type=int, help="alleles per streamed block")
    parser.add_argument("--tss-half-bins", type=int, help="per-gene scores sum the TSS bin ± this many bins")
    parser.add_argument("--gene-assays", nargs="*", help="assays that get per-gene scores (none given: all tracks)")
    parser.add_argument("--batch-size", type=int, help="sequences per forward pass")
    parser.add_argument("--device", help="auto, cpu, cuda, ...")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--reverse-complement", action=argparse.BooleanOptionalAction, default=None,
                        help="average with reverse-complement predictions")
    parser.add_argument("--shifts", type=int, nargs="+", help="average over these bp shifts")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``enformer-lite score-variants``."""
    from enformer_lite.variants.outputs import write_outputs

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.n_chunks < 1:
        raise InputError(f"--n-chunks {args.n_chunks}: must be ≥ 1")
    cfg = config_from_args(args)
    device = resolve_device(cfg.device)
    scoring = load_scoring_model(args.checkpoint, args.head, device)
    attrs = {"checkpoint": str(args.checkpoint)}
    if args.part:
        score_vcf(args.vcf, args.fasta, scoring, args.part, cfg, args.genes, args.chunk, args.n_chunks, device, attrs)
        return 0
    prefix = Path(args.out_prefix)
    score_vcf(args.vcf, args.fasta, scoring, f"{prefix}.h5", cfg, args.genes, device=device, attrs=attrs)
    write_outputs(f"{prefix}.h5", args.vcf, prefix)
    return 0
