"""Tiny genomes and bigWig tracks made on the fly for the data tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from enformer_lite.data.windows import WindowSpec

TINY_SPEC = WindowSpec(length=4096, stride=2048, bin_size=128, target_length=16, max_n_fraction=0.35)


@dataclasses.dataclass
class TinyGenome:
    """Paths of a tiny FASTA + bigWigs + tracks table, and the raw per-base truth."""

    root: Path
    fasta: Path
    tracks: Path
    sequences: dict[str, str]
    bigwigs: list[Path]


def write_fasta(path: Path, sequences: dict[str, str], width: int = 60) -> None:
    with open(path, "w") as handle:
        for name, seq in sequences.items():
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i : i + width] + "\n")


def write_bigwig(
    path: Path, sizes: dict[str, int], values: dict[str, np.ndarray], names: dict[str, str] | None = None
) -> None:
    """Per-base values (NaN = no entry) written as 1-bp intervals; ``names`` renames chromosomes."""
    names = names or {}
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([(names.get(c, c), n) for c, n in sizes.items()])
    for chrom, vals in values.items():
        _write_runs(bw, names.get(chrom, chrom), vals)
    bw.close()


def _write_runs(bw: "pyBigWig.pyBigWig", chrom: str, vals: np.ndarray) -> None:
    valid = ~np.isnan(vals)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        bw.addEntries(chrom, int(start), values=vals[start:end].astype(np.float64).tolist(), span=1, step=1)


def make_tiny_genome(root: Path, seed: int = 0, chrom_names: dict[str, str] | None = None) -> TinyGenome:
    """Three chromosomes (one with an N gap and soft-masking) and three tracks.

    Track 0: sum, soft clip at 200, scale 0.5. Track 1: mean, no clip. Track 2: sum,
    no data on chr2 from 1000 to 3000 (NaN), scale 2.
    """
    rng = np.random.default_rng(seed)
    lengths = {"chr1": 20_000, "chr2": 9_000, "chr3": 13_000}
    sequences = {}
    for name, n in lengths.items():
        seq = "".join(rng.choice(list("ACGT"), size=n))
        sequences[name] = seq
    s = sequences["chr1"]
    sequences["chr1"] = s[:5000] + "N" * 3000 + s[8000:10000].lower() + s[10000:]
    root.mkdir(parents=True, exist_ok=True)
    fasta = root / "genome.fa"
    write_fasta(fasta, sequences)
    bigwigs = []
    rows = ["index\tid\tfile\tassay\tstrand\tstrand_pair\tsum_stat\tclip_soft\tclip\tscale\tdescription"]
    settings = [("sum", "200", "", "0.5"), ("mean", "", "", "1"), ("sum", "", "", "2")]
    for t, (stat, soft, clip, scale) in enumerate(settings):
        values = {c: rng.gamma(0.5, 4.0, size=n).astype(np.float32) for c, n in lengths.items()}
        values["chr1"][4000:4100] = 50.0  # a peak that crosses the soft clip when summed
        if t == 2:
            values["chr2"][1000:3000] = np.nan
        path = root / f"track{t}.bw"
        write_bigwig(path, lengths, values, chrom_names)
        bigwigs.append(path)
        rows.append(f"{t}\tt{t}\t{path}\tDNASE\t.\t{t}\t{stat}\t{soft}\t{clip}\t{scale}\ttrack {t}")
    tracks = root / "tracks.tsv"
    tracks.write_text("\n".join(rows) + "\n")
    return TinyGenome(root, fasta, tracks, sequences, bigwigs)


@pytest.fixture
def tiny_genome(tmp_path: Path) -> TinyGenome:
    return make_tiny_genome(tmp_path / "genome")
