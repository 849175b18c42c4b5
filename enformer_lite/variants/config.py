"""Settings of variant-effect scoring: the scoring keys of the ``variants:`` config section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from enformer_lite.data.regions import parse_region_or_chrom
from enformer_lite.errors import InputError
from enformer_lite.sections import from_mapping

REF_POLICIES = ("error", "skip", "flip")
# Keys of the ``variants:`` section that drive the workflow, not the scoring itself.
WORKFLOW_KEYS = ("enabled", "checkpoint", "vcfs", "n_chunks")


@dataclass(frozen=True)
class ScoreConfig:
    """How VCF records become scored alleles.

    Attributes:
        ref_mismatch: what to do when REF differs from the FASTA: ``error`` stops, ``skip``
            records the allele in the skipped table, ``flip`` swaps REF and ALT of a SNP whose
            ALT is the reference base (other mismatches are skipped).
        chrom_map: explicit VCF → FASTA chromosome names, tried before the automatic
            ``chr1``/``1`` and ``chrM``/``MT`` aliases.
        indels: score insertions and deletions (fixed-length windows anchored at the variant);
            False skips them with reason ``indel``.
        max_indel_length: alleles whose REF or ALT is longer are skipped (``long_allele``).
        grid: window centres lie on multiples of this many bp; a variant uses the window centred
            on the nearest grid point, so variants within one grid cell share the reference
            prediction. 1 centres every window exactly on its variant.
        batch_size: sequences per forward pass.
        block_size: alleles read, scored and written per block (bounds memory).
        regions: score only records in these regions: ``chrom`` or ``chrom:start-end`` (0-based,
            half-open, commas allowed; ``chr1``/``1`` aliases match). Empty: every record.
        limit: score only the first ``limit`` (selected) records of the VCF (0 = all).
        reverse_complement, shifts: test-time averaging over the reverse complement and
            shifts in bp (the same shifts are applied to reference and alternative).
        device: ``auto`` (GPU when present), ``cpu``, ``cuda``, ...
        tss_half_bins: per-gene scores sum the TSS bin and this many bins on each side.
        gene_assays: tracks of these assays get per-gene scores (empty: every track).
    """

    ref_mismatch: str = "skip"
    chrom_map: Mapping[str, str] = field(default_factory=dict)
    indels: bool = True
    max_indel_length: int = 500
    grid: int = 1024
    batch_size: int = 4
    block_size: int = 2000
    regions: tuple[str, ...] = ()
    limit: int = 0
    reverse_complement: bool = False
    shifts: tuple[int, ...] = (0,)
    device: str = "auto"
    tss_half_bins: int = 1
    gene_assays: tuple[str, ...] = ("CAGE",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chrom_map", {str(k): str(v) for k, v in dict(self.chrom_map).items()})
        object.__setattr__(self, "shifts", tuple(int(s) for s in self.shifts) or (0,))
        object.__setattr__(self, "gene_assays", tuple(str(a).upper() for a in self.gene_assays))
        object.__setattr__(self, "regions", tuple(str(r) for r in self.regions))
        for region in self.regions:
            parse_region(region)
        if self.ref_mismatch not in REF_POLICIES:
            raise InputError(f"config variants.ref_mismatch: must be one of {', '.join(REF_POLICIES)}, got {self.ref_mismatch!r}")
        for key in ("grid", "batch_size", "block_size", "max_indel_length"):
            if int(getattr(self, key)) < 1:
                raise InputError(f"config variants.{key}: must be ≥ 1, got {getattr(self, key)}")
        for key in ("limit", "tss_half_bins"):
            if int(getattr(self, key)) < 0:
                raise InputError(f"config variants.{key}: must be ≥ 0, got {getattr(self, key)}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> ScoreConfig:
        """Build from the ``variants:`` section; workflow-only keys are ignored, unknown keys rejected."""
        values = {k: v for k, v in dict(values or {}).items() if k not in WORKFLOW_KEYS}
        for key in ("shifts", "gene_assays", "regions"):
            if key in values:
                values[key] = tuple(values[key])
        return from_mapping(cls, values, "variants")


def parse_region(text: str) -> tuple[str, int, int | None]:
    """``chrom`` or ``chrom:start-end`` (0-based, half-open) → (chrom, start, end or None)."""
    return parse_region_or_chrom(text, "config variants.regions")
