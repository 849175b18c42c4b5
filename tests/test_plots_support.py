"""Tiny inputs for the figure tests: a FASTA, bigWigs, genes, elements, data.h5 and a checkpoint.

No tests live here. The world has three chromosomes; window geometry is 4,096 bp
windows of 32 bins of 128 bp with the central 16 bins as targets, and a real
"tiny" network pooled to 128-bp bins (random weights: the tests check plumbing
and numbers, not accuracy).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import torch

from conftest import write_bigwig, write_fasta

WINDOW = 4096
BIN = 128
TARGET = 16
CROP_BP = (WINDOW // BIN - TARGET) // 2 * BIN
SIZES = {"chr1": 20_000, "chr2": 12_000, "chr3": 16_384}
TRACKS = [
    {"index": 0, "id": "dnase", "file": "", "assay": "DNASE", "strand": ".", "strand_pair": 0, "sum_stat": "sum",
     "clip_soft": 32.0, "clip": None, "scale": 0.5, "description": "DNase"},
    {"index": 1, "id": "cage_plus", "file": "", "assay": "CAGE", "strand": "+", "strand_pair": 2, "sum_stat": "sum",
     "clip_soft": None, "clip": None, "scale": 1.0, "description": "CAGE +"},
    {"index": 2, "id": "cage_minus", "file": "", "assay": "CAGE", "strand": "-", "strand_pair": 1,
     "sum_stat": "mean", "clip_soft": None, "clip": None, "scale": 2.0, "description": "CAGE -"},
]
# Test chromosome chr3 has genes on both strands; g_hot has by far the strongest CAGE.
GENES = [
    ("chr1", 6_000, "+", "g_train"),
    ("chr3", 3_000, "+", "g_low"),
    ("chr3", 9_000, "+", "g_hot"),
    ("chr3", 12_500, "-", "g_minus"),
]
ELEMENTS = [("chr3", 7_000, 7_400, "enh1", 5.0), ("chr3", 10_000, 10_300, "enh2", 1.0), ("chr1", 100, 300, "far", 0)]


@dataclasses.dataclass
class TinyWorld:
    root: Path
    fasta: Path
    tracks: Path
    genes: Path
    candidates: Path
    signal: dict[str, dict[str, np.ndarray]]  # track id → chrom → per-base values (NaN = no data)
    sequences: dict[str, str]


def make_world(root: Path, seed: int = 0) -> TinyWorld:
    """FASTA, one bigWig per track (per-base values kept for checks), tracks table, genes and elements BED."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    sequences = {c: "".join(rng.choice(list("ACGT"), size=n)) for c, n in SIZES.items()}
    fasta = root / "genome.fa"
    write_fasta(fasta, sequences)
    signal: dict[str, dict[str, np.ndarray]] = {}
    rows = ["index\tid\tfile\tassay\tstrand\tstrand_pair\tsum_stat\tclip_soft\tclip\tscale\tdescription"]
    for track in TRACKS:
        values = {c: rng.gamma(0.5, 0.4, size=n).astype(np.float32) for c, n in SIZES.items()}
        values["chr2"][500:900] = np.nan
        if track["assay"] == "CAGE":
            for chrom, tss, strand, name in GENES:
                if (strand == "+") == (track["strand"] == "+"):
                    values[chrom][tss : tss + 40] += 40.0 if name == "g_hot" else 2.0
        path = root / f"{track['id']}.bw"
        write_bigwig(path, SIZES, values)
        signal[track["id"]] = values
        clip_soft = "" if track["clip_soft"] is None else track["clip_soft"]
        rows.append(f"{track['index']}\t{track['id']}\t{path}\t{track['assay']}\t{track['strand']}\t"
                    f"{track['strand_pair']}\t{track['sum_stat']}\t{clip_soft}\t\t{track['scale']}\t{track['description']}")
    tracks = root / "tracks.tsv"
    tracks.write_text("\n".join(rows) + "\n")
    genes = root / "genes.bed"
    genes.write_text("".join(f"{c}\t{t}\t{t + 1}\t{n}\t0\t{s}\n" for c, t, s, n in GENES))
    candidates = root / "candidates.bed"
    candidates.write_text("".join(f"{c}\t{s}\t{e}\t{n}\t{v}\n" for c, s, e, n, v in ELEMENTS))
    return TinyWorld(root, fasta, tracks, genes, candidates, signal, sequences)


def transformed_targets(world: TinyWorld, chrom: str, start: int) -> np.ndarray:
    """Targets (TARGET, T) of the window at ``start``: pool, soft clip, scale (the data contract)."""
    out = np.zeros((TARGET, len(TRACKS)), dtype=np.float32)
    lo = start + CROP_BP
    for track in TRACKS:
        per_base = np.nan_to_num(world.signal[track["id"]][chrom][lo : lo + TARGET * BIN])
        pooled = per_base.reshape(TARGET, BIN).sum(1)
        if track["sum_stat"] == "mean":
            pooled = pooled / BIN
        if track["clip_soft"] is not None:
            c = track["clip_soft"]
            pooled = np.where(pooled > c, c + np.sqrt(np.maximum(pooled - c, 0)), pooled)
        out[:, track["index"]] = pooled * track["scale"]
    return out


def write_data_h5(world: TinyWorld, path: Path, genome: str = "human") -> list[tuple[str, int, str]]:
    """Contract-following data.h5 with windows tiled at stride 2,048; chr2 valid, chr3 test."""
    from enformer_lite.data.sequence import encode

    windows = []
    for chrom, size in SIZES.items():
        split = {"chr2": "valid", "chr3": "test"}.get(chrom, "train")
        windows += [(chrom, s, split) for s in range(0, size - WINDOW + 1, 2048)]
    table = np.zeros(len(windows), dtype=[("chrom", "S8"), ("start", "<i8"), ("end", "<i8"), ("split", "S5")])
    codes = np.zeros((len(windows), WINDOW), dtype=np.uint8)
    targets = np.zeros((len(windows), TARGET, len(TRACKS)), dtype=np.float16)
    for i, (chrom, start, split) in enumerate(windows):
        table[i] = (chrom.encode(), start, start + WINDOW, split.encode())
        codes[i] = encode(world.sequences[chrom][start : start + WINDOW])
        targets[i] = transformed_targets(world, chrom, start)
    tracks = [{**t, "file": str(world.root / f"{t['id']}.bw")} for t in TRACKS]
    with h5py.File(path, "w") as f:
        f.create_dataset("sequence", data=codes, chunks=(1, WINDOW))
        f.create_dataset("targets", data=targets, chunks=(1, TARGET, len(TRACKS)))
        f.create_dataset("windows", data=table)
        f.attrs.update({"genome": genome, "window_length": WINDOW, "bin_size": BIN, "target_length": TARGET,
                        "tracks": json.dumps(tracks), "fingerprint": "tiny"})
    return windows


def write_checkpoint(path: Path, genome: str = "human", seed: int = 0) -> torch.nn.Module:
    """A checkpoint that :func:`enformer_lite.inference.checkpoint.load_checkpoint` reads; returns the model (eval mode)."""
    from enformer_lite.model import ModelConfig, build_model

    torch.manual_seed(seed)
    cfg = ModelConfig.from_preset("tiny", heads={genome: len(TRACKS)}, target_length=TARGET, num_conv_tower=6,
                                  dropout=0.0, attention_dropout=0.0, positional_dropout=0.0)
    model = build_model(cfg).eval()
    data_meta = {genome: {"genome": genome, "window_length": WINDOW, "bin_size": BIN, "target_length": TARGET,
                          "tracks": TRACKS, "fingerprint": "tiny"}}
    torch.save({
        "hyper_parameters": {"model_config": cfg.to_dict(), "track_ids": {genome: [t["id"] for t in TRACKS]},
                             "data_meta": data_meta, "optim": {}},
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "global_step": 0,
    }, path)
    return model


def write_metrics_csv(path: Path, steps: int = 60, organisms: tuple[str, ...] = ("human", "mouse")) -> None:
    """A metrics.csv shaped like Lightning's CSVLogger output of ``enformer-lite train``."""
    rows = []
    for step in range(steps):
        rows.append({"step": step, "epoch": 0, "train/loss": 2.0 * np.exp(-step / 20) + 0.1 * (step % 3),
                     "lr-AdamW/lr": 1e-3 * min(1.0, (step + 1) / 10)})
        if step % 20 == 19:
            row = {"step": step, "epoch": 0, "val/loss": 1.5 * np.exp(-step / 25), "val/pearson": step / 100}
            for k, organism in enumerate(organisms):
                row[f"val/{organism}/loss"] = 1.4 * np.exp(-step / 25) + 0.1 * k
                row[f"val/{organism}/pearson"] = step / 100 - 0.05 * k
            rows.append(row)
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)


def write_variant_scores(path: Path, world: TinyWorld, variants: list[tuple[str, int, str, str, float]],
                         genome: str = "human") -> None:
    """A score file in the layout of :mod:`enformer_lite.variants.store` (grid 1: each variant at the window centre).

    ``variants`` are (chrom, 1-based pos, ref, alt, SAD of track 1); other tracks get SAD / 10.
    """
    n, t = len(variants), len(TRACKS)
    sad = np.zeros((n, t), dtype=np.float32)
    for i, (*_, value) in enumerate(variants):
        sad[i] = value / 10
        sad[i, 1] = value
    string = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        alleles = f.create_group("alleles")
        alleles["record"] = np.arange(n)
        alleles["alt_index"] = np.zeros(n, dtype=np.int32)
        for name, column in (("chrom", 0), ("vcf_chrom", 0), ("ref", 2), ("alt", 3)):
            alleles.create_dataset(name, data=[v[column] for v in variants], dtype=string)
        alleles["pos"] = np.array([v[1] for v in variants], dtype=np.int64)
        alleles.create_dataset("id", data=[f"rs{i}" for i in range(n)], dtype=string)
        alleles["flipped"] = np.zeros(n, dtype=bool)
        alleles["window_start"] = np.array([v[1] - 1 - WINDOW // 2 for v in variants], dtype=np.int64)
        scores = f.create_group("scores")
        for name in ("SAD", "LOG2R", "D2", "MAXD"):
            scores[name] = sad
        f.create_group("skipped")
        f.create_group("genes")
        f.create_group("gene_scores")
        tracks = [{**tr, "file": str(world.root / f"{tr['id']}.bw")} for tr in TRACKS]
        f.attrs.update({"tracks": json.dumps(tracks), "gene_tracks": json.dumps([1, 2]), "head": genome,
                        "window_length": WINDOW, "bin_size": BIN, "target_length": TARGET, "grid": 1,
                        "checkpoint": "best.ckpt"})


CONTRIBUTION_COLUMNS = ["gene", "element", "chrom", "start", "end", "tss", "strand", "distance", "own_promoter", "gene_signal",
                        "grad_input", "grad_input_abs", "deletion", "deletion_fraction", "attention", "accessibility",
                        "abc", "rank", "rank_deletion", "rank_grad_input_abs", "rank_grad_input", "rank_attention",
                        "rank_abc"]


def write_contributions(root: Path, world: TinyWorld) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """An enhancer–gene table and per-gene gradient × input bigWigs (window = TSS ± 2,048 bp).

    Returns the table path, the tracks directory and the per-base values written per gene.
    """
    rng = np.random.default_rng(5)
    rows, values = [], {}
    tracks_dir = root / "tracks"
    tracks_dir.mkdir(parents=True, exist_ok=True)
    for gene_signal, (chrom, tss, strand, gene) in zip((3.0, 9.0, 1.0), [g for g in GENES if g[0] == "chr3"]):
        elements = [e for e in ELEMENTS if e[0] == chrom and abs((e[1] + e[2]) / 2 - tss) < WINDOW // 2]
        deletions = rng.normal(0, 1, len(elements))
        order = np.argsort(-deletions)
        for rank, k in enumerate(order, start=1):
            c, s, e, name, _ = elements[k]
            rows.append({"gene": gene, "element": name, "chrom": c, "start": s, "end": e, "tss": tss, "strand": strand,
                         "distance": int((s + e) / 2 - tss), "own_promoter": False, "gene_signal": gene_signal, "grad_input": deletions[k],
                         "grad_input_abs": abs(deletions[k]), "deletion": deletions[k], "deletion_fraction": 0.1,
                         "attention": 0.01, "accessibility": 1.0, "abc": 0.5, "rank": rank, "rank_deletion": rank,
                         "rank_grad_input_abs": rank, "rank_grad_input": rank, "rank_attention": rank, "rank_abc": rank})
        start = tss - WINDOW // 2
        per_base = rng.normal(0, 0.01, WINDOW)
        values[gene] = per_base
        bw = pyBigWig.open(str(tracks_dir / f"{gene}.bw"), "w")
        bw.addHeader(list(SIZES.items()))
        lo = max(start, 0)
        bw.addEntries(chrom, lo, values=per_base[lo - start:].astype(np.float64).tolist(), span=1, step=1)
        bw.close()
    table = root / "enhancer_gene.tsv"
    import pandas as pd

    pd.DataFrame(rows, columns=CONTRIBUTION_COLUMNS).to_csv(table, sep="\t", index=False)
    return table, tracks_dir, values
