"""Settings of the interpretation stage: the ``interpret:`` config section.

One dataclass per step (ISM, calibration, motifs, explanations); each is built from its
sub-mapping with :func:`~enformer_lite.sections.from_mapping`, which rejects unknown keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from enformer_lite.errors import InputError
from enformer_lite.sections import from_mapping

WORKFLOW_KEYS = ("enabled", "checkpoint", "genomes", "ism_genomes", "vcf", "background_vcf", "truth")
"""Keys of the ``interpret:`` section that only the workflow reads."""

ATTRIBUTIONS = ("grad_input", "ism")


def _tuple(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in (value or ()))


def _at_least(where: str, values: Mapping[str, float], low: float) -> None:
    for key, value in values.items():
        if value < low:
            raise InputError(f"config {where}.{key}: must be ≥ {low:g}, got {value}")


@dataclass(frozen=True)
class IsmConfig:
    """In-silico saturation mutagenesis.

    Attributes:
        genes: ids of genes whose TSS ± ``flank`` is mutated.
        n_genes: when ``genes`` is empty, this many genes spread over the genes BED (0: none).
        elements: ids of candidate elements mutated over their whole length (capped at ``max_region_bp``).
        regions: further regions as ``chrom:start-end`` (0-based, half-open).
        top_variants: the variants with the largest |SAD| in the score file, each ± ``flank``.
        flank: bp each side of a TSS or variant.
        max_region_bp: longest region mutated (a longer element is cut around its centre).
        readout_flank_bins: the readout sums the bin at the region centre and this many each side.
        tracks: ids of the tracks summed into the bigWig and the logo (empty: all).
        batch_size: edited sequences per forward pass.
        max_logos: regions drawn in the logo figure.
        device: ``auto``, ``cpu``, ``cuda``, ...
    """

    genes: tuple[str, ...] = ()
    n_genes: int = 1
    elements: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    top_variants: int = 0
    flank: int = 20
    max_region_bp: int = 2000
    readout_flank_bins: int = 1
    tracks: tuple[str, ...] = ()
    batch_size: int = 8
    max_logos: int = 4
    device: str = "auto"

    def __post_init__(self) -> None:
        for key in ("genes", "elements", "regions", "tracks"):
            object.__setattr__(self, key, _tuple(getattr(self, key)))
        _at_least("interpret.ism", {"n_genes": self.n_genes, "top_variants": self.top_variants, "flank": self.flank,
                                    "readout_flank_bins": self.readout_flank_bins, "max_logos": self.max_logos}, 0)
        _at_least("interpret.ism", {"max_region_bp": self.max_region_bp, "batch_size": self.batch_size}, 1)


@dataclass(frozen=True)
class CalibrationConfig:
    """Signed quantiles of variant scores against a background scored the same way.

    Attributes:
        n_background: SNPs sampled from the genome's windows when no background VCF is given.
        seed: seed of that sample.
        scores: score names of the HDF5 file to calibrate (``SAD``, ``LOG2R``, ...).
        edge_bp: sampled SNPs keep this far from a window's ends.
    """

    n_background: int = 2000
    seed: int = 0
    scores: tuple[str, ...] = ("SAD",)
    edge_bp: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", _tuple(self.scores))
        _at_least("interpret.calibration", {"n_background": self.n_background, "edge_bp": self.edge_bp}, 0)
        if not self.scores:
            raise InputError("config interpret.calibration.scores: name at least one score")


@dataclass(frozen=True)
class MotifConfig:
    """Attributions over candidate elements and promoters → TF-MoDISco → TOMTOM against JASPAR.

    Attributes:
        attribution: ``grad_input`` (gradient of the element's own predicted signal, one
            backward pass per element) or ``ism`` (all 3 alternatives at every base).
        max_elements: candidate elements scored (spread evenly over the candidates BED; 0 = all).
        promoters: further sequences centred on gene TSSs (spread over the genes BED; 0 = none).
        seq_length: length of each attribution sequence given to TF-MoDISco, centred on the element.
        readout_flank_bins: the readout sums the element's centre bin and this many each side.
        tracks: tracks summed into the readout (empty: all).
        window_size, flank_size, target_seqlet_fdr, min_metacluster_size, max_seqlets,
        n_leiden_runs, final_min_cluster_size: TF-MoDISco settings (``sliding_window_size``,
            ``flank_size``, ``target_seqlet_fdr``, ``min_metacluster_size``,
            ``max_seqlets_per_metacluster``, ``n_leiden_runs``, ``final_min_cluster_size``).
        q_threshold: TOMTOM q-value under which a pattern matches a JASPAR motif.
        trim_threshold: pattern columns with less than this share of the peak |CWM| are trimmed.
        batch_size: sequences per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ...
    """

    attribution: str = "grad_input"
    max_elements: int = 200
    promoters: int = 0
    seq_length: int = 400
    readout_flank_bins: int = 1
    tracks: tuple[str, ...] = ()
    window_size: int = 15
    flank_size: int = 5
    target_seqlet_fdr: float = 0.2
    min_metacluster_size: int = 20
    max_seqlets: int = 20000
    n_leiden_runs: int = 8
    final_min_cluster_size: int = 10
    q_threshold: float = 0.05
    trim_threshold: float = 0.3
    batch_size: int = 2
    device: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", _tuple(self.tracks))
        if self.attribution not in ATTRIBUTIONS:
            raise InputError(f"config interpret.motifs.attribution: one of {', '.join(ATTRIBUTIONS)}, got {self.attribution!r}")
        _at_least("interpret.motifs", {"max_elements": self.max_elements, "promoters": self.promoters,
                                       "readout_flank_bins": self.readout_flank_bins}, 0)
        _at_least("interpret.motifs", {k: getattr(self, k) for k in (
            "seq_length", "window_size", "flank_size", "min_metacluster_size", "max_seqlets", "n_leiden_runs",
            "final_min_cluster_size", "batch_size")}, 1)
        if not 0 < self.q_threshold <= 1 or not 0 <= self.trim_threshold < 1:
            raise InputError("config interpret.motifs: q_threshold must be in (0, 1] and trim_threshold in [0, 1)")


@dataclass(frozen=True)
class ExplainConfig:
    """One explanation per variant: PWM scan of REF vs ALT, element, genes.

    Attributes:
        min_delta_bits: a motif is disrupted/created when its best score changes by at least this.
        p_value: a PWM hit needs a background tail probability ≤ this (per strand).
        max_margin_bits: but never a threshold more than this below the motif's best score
            (defaults as the simulator's occupancy midpoint; bench/interpret.py compares others).
        top_genes: genes listed per variant (largest |TSS change| summed over gene tracks).
    """

    min_delta_bits: float = 1.0
    p_value: float = 1e-6
    max_margin_bits: float = 1.0
    top_genes: int = 3

    def __post_init__(self) -> None:
        _at_least("interpret.explain", {"min_delta_bits": self.min_delta_bits, "max_margin_bits": self.max_margin_bits,
                                        "top_genes": self.top_genes}, 0)
        if not 0 < self.p_value < 1:
            raise InputError(f"config interpret.explain.p_value: must be in (0, 1), got {self.p_value}")


@dataclass(frozen=True)
class InterpretConfig:
    """The whole ``interpret:`` section."""

    ism: IsmConfig = IsmConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    motifs: MotifConfig = MotifConfig()
    explain: ExplainConfig = ExplainConfig()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> InterpretConfig:
        """Build from the ``interpret:`` mapping; workflow-only keys are ignored, unknown ones rejected."""
        values = {k: v for k, v in dict(values or {}).items() if k not in WORKFLOW_KEYS}
        unknown = sorted(set(values) - {"ism", "calibration", "motifs", "explain"})
        if unknown:
            raise InputError(f"config interpret: unknown key(s) {', '.join(unknown)}; known: calibration, explain, ism, motifs")
        return cls(
            ism=from_mapping(IsmConfig, values.get("ism"), "interpret.ism"),
            calibration=from_mapping(CalibrationConfig, values.get("calibration"), "interpret.calibration"),
            motifs=from_mapping(MotifConfig, values.get("motifs"), "interpret.motifs"),
            explain=from_mapping(ExplainConfig, values.get("explain"), "interpret.explain"),
        )
