"""Shared helpers for the variant tests: tiny genomes, VCF writing and small stand-in models.

No tests live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pysam
import torch
from torch import nn

from conftest import write_fasta
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.inference.trained import TrainedModel

WINDOW_LENGTH = 512
BIN_SIZE = 16
TARGET_LENGTH = 16  # 32 bins per window, 8 cropped on each side

# A stranded CAGE pair and an unstranded DNase track with different transforms.
TRACKS = (
    TrackSpec(0, "cage_plus", "cage+.bw", "CAGE", "+", 1, "sum", None, None, 1.0, "CAGE + strand"),
    TrackSpec(1, "cage_minus", "cage-.bw", "CAGE", "-", 0, "sum", None, None, 1.0, "CAGE - strand"),
    TrackSpec(2, "dnase", "dnase.bw", "DNASE", ".", 2, "mean", 3.0, None, 0.5, "DNase"),
)


def random_genome(root: Path, lengths: dict[str, int], seed: int = 0, name: str = "genome.fa") -> tuple[Path, dict[str, str]]:
    """A FASTA of random ACGT chromosomes; returns its path and the sequences."""
    rng = np.random.default_rng(seed)
    sequences = {c: "".join(rng.choice(list("ACGT"), size=n)) for c, n in lengths.items()}
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    write_fasta(path, sequences)
    return path, sequences


def write_vcf(
    path: Path, records: Sequence[str], contigs: dict[str, int] | None = None, bgzip: bool = False, extra_header: Sequence[str] = ()
) -> Path:
    """A VCF with the given tab-separated data lines (CHROM POS ID REF ALT [QUAL FILTER INFO]).

    Missing QUAL/FILTER/INFO columns are filled with '.'. With ``bgzip`` the file is
    compressed with pysam (BGZF) and ``path`` gets a ``.gz`` suffix.
    """
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in (contigs or {}).items()]
    lines += list(extra_header)
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for record in records:
        fields = record.split("\t")
        lines.append("\t".join(fields + ["."] * (8 - len(fields))))
    path.write_text("\n".join(lines) + "\n")
    if not bgzip:
        return path
    out = Path(f"{path}.gz")
    pysam.tabix_compress(str(path), str(out), force=True)
    path.unlink()
    return out


class LinearBinModel(nn.Module):
    """Prediction of bin b, track t = bias[t] + Σ_{bases i in bin b} weight[base_i, t] (N adds 0).

    Exactly linear in the one-hot input, so a SNP changes one bin by
    ``weight[alt, t] - weight[ref, t]``. Output (B, target_length, T), cropped centrally.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, bin_size: int = BIN_SIZE, target_length: int = TARGET_LENGTH) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.float32), requires_grad=False)  # (4, T)
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float32), requires_grad=False)  # (T,)
        self.bin_size = bin_size
        self.target_length = target_length

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        per_base = x @ self.weight  # (B, L, T)
        bins = per_base.reshape(x.shape[0], -1, self.bin_size, per_base.shape[-1]).sum(dim=2)
        crop = (bins.shape[1] - self.target_length) // 2
        return bins[:, crop : crop + self.target_length] + self.bias


class ConvBinModel(nn.Module):
    """A random, strand-asymmetric conv net: Conv1d(k=7) → softplus → mean per bin → crop."""

    def __init__(self, n_tracks: int, seed: int = 0, bin_size: int = BIN_SIZE, target_length: int = TARGET_LENGTH) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv1d(4, n_tracks, kernel_size=7, padding=3)
        self.bin_size = bin_size
        self.target_length = target_length

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        h = nn.functional.softplus(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (B, L, T)
        bins = h.reshape(x.shape[0], -1, self.bin_size, h.shape[-1]).mean(dim=2)
        crop = (bins.shape[1] - self.target_length) // 2
        return bins[:, crop : crop + self.target_length]


def scoring_model(model: nn.Module, tracks: Sequence[TrackSpec] = TRACKS) -> TrainedModel:
    """A :class:`TrainedModel` (CPU) for a stand-in model with the test geometry."""
    geometry = WindowGeometry(WINDOW_LENGTH, BIN_SIZE, TARGET_LENGTH)
    return TrainedModel(model.eval(), "human", geometry, tuple(tracks), torch.device("cpu"), "stand-in")
