"""Settings of ``enformer-lite contributions``: the ``contributions:`` config section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from enformer_lite.errors import InputError
from enformer_lite.sections import from_mapping

METHODS = ("grad_input", "deletion", "attention")
DELETION_MODES = ("shuffle", "mask")
RANK_COLUMNS = ("deletion", "grad_input_abs", "grad_input", "attention", "abc")
WORKFLOW_KEYS = ("enabled", "chunks", "held_out_only", "checkpoint", "truth", "distance_bins", "resources")
"""Keys of the config section that only the workflow reads."""


@dataclass(frozen=True)
class ContributionsConfig:
    """How genes are chosen, what is scored and how.

    Attributes:
        genes: only these gene ids (empty: every gene of the genes BED).
        chroms: only genes on these chromosomes (empty: all).
        max_genes: at most this many genes, spread evenly over the (filtered) BED order; 0 = all.
        tracks: ids of the tracks whose predicted signal at the TSS is explained (empty: every
            track with assay CAGE). Stranded tracks count only for genes on their strand.
        accessibility_tracks: tracks averaged into the element accessibility of the ABC baseline
            (empty: assays DNASE and ATAC).
        tss_flank_bins: the TSS signal sums the bin holding the TSS and this many bins each side.
        methods: any of ``grad_input``, ``deletion``, ``attention``.
        deletion_mode: ``shuffle`` (dinucleotide-preserving shuffle of the element) or ``mask`` (N).
        deletion_draws: shuffles averaged per element (``mask`` always uses one).
        seed: seed of the shuffles (each gene/element pair gets its own stream).
        batch_size: sequences per forward pass.
        rank_by: score column that orders elements within a gene (``rank``) and picks BEDPE links.
        bedpe_top: links per gene written to the BEDPE (the best ``rank_by`` scores above 0).
        promoter_bp: an element overlapping the gene's TSS ± this many bp is its own promoter
            (column ``own_promoter``): not an enhancer–gene link, so left out of the BEDPE.
        bedpe_promoters: write own-promoter pairs to the BEDPE too.
        abc_gamma, abc_scale: contact of the ABC baseline, ``(1 + distance / abc_scale) ** -abc_gamma``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda``, ...
    """

    genes: tuple[str, ...] = ()
    chroms: tuple[str, ...] = ()
    max_genes: int = 0
    tracks: tuple[str, ...] = ()
    accessibility_tracks: tuple[str, ...] = ()
    tss_flank_bins: int = 1
    methods: tuple[str, ...] = METHODS
    deletion_mode: str = "shuffle"
    deletion_draws: int = 3
    seed: int = 0
    batch_size: int = 4
    rank_by: str = "deletion"
    bedpe_top: int = 5
    promoter_bp: int = 500
    bedpe_promoters: bool = False
    abc_gamma: float = 1.0
    abc_scale: float = 5000.0
    device: str = "auto"

    def __post_init__(self) -> None:
        for key in ("genes", "chroms", "tracks", "accessibility_tracks", "methods"):
            value = getattr(self, key)
            object.__setattr__(self, key, (value,) if isinstance(value, str) else tuple(str(v) for v in value))
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown or not self.methods:
            raise InputError(f"config contributions.methods: choose from {', '.join(METHODS)}, got {list(self.methods)}")
        if self.deletion_mode not in DELETION_MODES:
            raise InputError(f"config contributions.deletion_mode: one of {', '.join(DELETION_MODES)}, got {self.deletion_mode!r}")
        if self.rank_by not in RANK_COLUMNS:
            raise InputError(f"config contributions.rank_by: one of {', '.join(RANK_COLUMNS)}, got {self.rank_by!r}")
        for key, low in (("max_genes", 0), ("tss_flank_bins", 0), ("deletion_draws", 1), ("batch_size", 1), ("bedpe_top", 0),
                         ("promoter_bp", 0)):
            if int(getattr(self, key)) < low:
                raise InputError(f"config contributions.{key}: must be ≥ {low}, got {getattr(self, key)}")
        if not (self.abc_scale > 0 and self.abc_gamma >= 0):
            raise InputError("config contributions.abc_scale must be > 0 and abc_gamma ≥ 0")

    @property
    def draws(self) -> int:
        """Edited sequences per element."""
        return 1 if self.deletion_mode == "mask" else self.deletion_draws

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> ContributionsConfig:
        """Build from the ``contributions:`` mapping; workflow-only keys are ignored, unknown ones rejected."""
        values = {k: v for k, v in dict(values or {}).items() if k not in WORKFLOW_KEYS}
        return from_mapping(cls, values, "contributions")
