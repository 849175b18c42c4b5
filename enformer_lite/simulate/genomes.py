"""The two simulated genomes: cell types, TF activities, enhancer programs and tracks.

Both genomes share the TF vocabulary of the shipped JASPAR motifs. Cell types are
"-like" stand-ins named after the real cells whose master regulators they use:
erythroid (GATA1), hepatocyte/liver (HNF4A, FOXA2, HNF1A, CEBPB), myeloid/macrophage
(SPI1, CEBPB, AP-1) and brain (NEUROD1, with the repressor REST inactive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enformer_lite.simulate.motifs import Motif, default_motifs
from enformer_lite.simulate.oracle import OracleConfig, OracleParams, TrackSpec

GENERAL_TFS = {"SP1": 1.0, "NFYA": 1.0, "TBP": 0.9, "ELK1": 0.8, "YY1": 0.8}
"""Promoter (general) TFs, active in every cell type."""

PROMOTER_TFS = ("SP1", "NFYA", "TBP", "ELK1", "YY1")


@dataclass(frozen=True)
class TrackDef:
    """A track of the tracks table: what the oracle computes plus the basenji-style
    transform the extraction step applies (pool with ``sum_stat``, soft clip, clip, scale)."""

    spec: TrackSpec
    sum_stat: str
    clip_soft: float | None
    clip: float | None
    scale: float
    description: str


@dataclass(frozen=True)
class GenomeSpec:
    """One simulated genome.

    Attributes:
        name: "human" or "mouse".
        prefix: one-letter prefix of gene, element and variant ids.
        cell_types: cell-type names.
        activity: per cell type, TF -> activity (TFs not named are 0; general TFs added).
        programs: enhancer programs: name -> TFs whose motifs an enhancer of it carries.
        program_weights: how often genes belong to each program ("none": no enhancers).
        tracks: the tracks, in table order.
    """

    name: str
    prefix: str
    cell_types: tuple[str, ...]
    activity: dict[str, dict[str, float]]
    programs: dict[str, tuple[str, ...]]
    program_weights: dict[str, float]
    tracks: tuple[TrackDef, ...]

    def activity_matrix(self, tf_names: tuple[str, ...]) -> np.ndarray:
        """(C, K) activity matrix in the order of ``tf_names``."""
        out = np.zeros((len(self.cell_types), len(tf_names)))
        for c, cell in enumerate(self.cell_types):
            values = {**GENERAL_TFS, **self.activity[cell]}
            unknown = set(values) - set(tf_names)
            if unknown:
                raise ValueError(f"genome {self.name}: cell type {cell} names unknown TFs {sorted(unknown)}")
            for tf, value in values.items():
                out[c, tf_names.index(tf)] = value
        return out

    def oracle_params(
        self, motifs: tuple[Motif, ...] | None = None, config: OracleConfig | None = None
    ) -> OracleParams:
        """The oracle of this genome (shipped motifs and default knobs unless given)."""
        motifs = default_motifs() if motifs is None else motifs
        names = tuple(m.name for m in motifs)
        return OracleParams(
            motifs=motifs,
            cell_types=self.cell_types,
            activity=self.activity_matrix(names),
            tracks=tuple(t.spec for t in self.tracks),
            config=config or OracleConfig(),
        )


def _dnase(cell: str, assay: str, text: str) -> TrackDef:
    return TrackDef(TrackSpec(f"{assay}_{cell}", assay, cell), "sum", 32.0, None, 2.0, text)


def _cage(cell: str, strand: str, text: str) -> TrackDef:
    suffix = {"+": "_plus", "-": "_minus", ".": ""}[strand]
    return TrackDef(TrackSpec(f"CAGE_{cell}{suffix}", "CAGE", cell, strand), "sum", 384.0, 768.0, 1.0, text)


_REPRESSED = {"REST": -1.5}
_LIVER = {"HNF4A": 1.2, "FOXA2": 1.0, "HNF1A": 1.1, "CEBPB": 0.9, "FOS::JUN": 0.4, **_REPRESSED}
_MYELOID = {"SPI1": 1.3, "CEBPB": 1.0, "FOS::JUN": 0.9, **_REPRESSED}
_PROGRAMS = {
    "liver": ("HNF4A", "FOXA2", "HNF1A", "CEBPB"),
    "myeloid": ("SPI1", "SPI1", "CEBPB", "FOS::JUN"),
    "ubiquitous": ("FOS::JUN", "ELK1", "SP1", "YY1"),
}

HUMAN = GenomeSpec(
    name="human",
    prefix="H",
    cell_types=("erythroid", "hepatocyte", "myeloid"),
    activity={
        "erythroid": {"GATA1": 1.3, "FOS::JUN": 0.8, "CEBPB": 0.1, **_REPRESSED},
        "hepatocyte": _LIVER,
        "myeloid": {**_MYELOID, "GATA1": 0.2},
    },
    programs={"erythroid": ("GATA1", "GATA1", "FOS::JUN"), **_PROGRAMS},
    program_weights={"erythroid": 0.22, "liver": 0.24, "myeloid": 0.22, "ubiquitous": 0.2, "none": 0.12},
    tracks=(
        _dnase("erythroid", "DNASE", "DNase-seq, erythroid-like cells (K562-like, GATA1-driven)"),
        _dnase("hepatocyte", "DNASE", "DNase-seq, hepatocyte-like cells (HepG2-like, HNF4A/FOXA2/HNF1A-driven)"),
        _dnase("myeloid", "DNASE", "DNase-seq, myeloid cells (SPI1/CEBPB-driven)"),
        _cage("hepatocyte", "+", "CAGE, hepatocyte-like cells, plus strand"),
        _cage("hepatocyte", "-", "CAGE, hepatocyte-like cells, minus strand"),
        _cage("erythroid", ".", "CAGE, erythroid-like cells, both strands"),
        _cage("myeloid", ".", "CAGE, myeloid cells, both strands"),
        TrackDef(
            TrackSpec("CHIP_CTCF_erythroid", "CHIP", "erythroid", ".", "CTCF"),
            "mean",
            32.0,
            None,
            2.0,
            "CTCF ChIP-seq, erythroid-like cells",
        ),
    ),
)

MOUSE = GenomeSpec(
    name="mouse",
    prefix="M",
    cell_types=("liver", "brain", "macrophage"),
    activity={
        "liver": _LIVER,
        "brain": {"NEUROD1": 1.3, "FOS::JUN": 0.6, "YY1": 1.0},
        "macrophage": _MYELOID,
    },
    programs={"neural": ("NEUROD1", "NEUROD1", "YY1", "REST"), **_PROGRAMS},
    program_weights={"liver": 0.26, "neural": 0.24, "myeloid": 0.22, "ubiquitous": 0.16, "none": 0.12},
    tracks=(
        _dnase("liver", "DNASE", "DNase-seq, liver-like cells"),
        _dnase("brain", "ATAC", "ATAC-seq, brain-like cells (NEUROD1-driven, REST inactive)"),
        _cage("liver", ".", "CAGE, liver-like cells, both strands"),
        _cage("brain", ".", "CAGE, brain-like cells, both strands"),
        _cage("macrophage", ".", "CAGE, macrophage-like cells, both strands"),
    ),
)

GENOMES: dict[str, GenomeSpec] = {"human": HUMAN, "mouse": MOUSE}
