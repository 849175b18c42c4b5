"""What the oracle is given besides its formulas: numeric knobs, cell types and TF
activities, the tracks to produce, the genes of a sequence, and base codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from enformer_lite.data.sequence import N_CODE, encode
from enformer_lite.simulate.motifs import Motif

ASSAYS = ("DNASE", "ATAC", "CAGE", "CHIP")


@dataclass(frozen=True)
class TrackSpec:
    """One simulated assay track.

    Attributes:
        id: track identifier (also the bigWig file stem).
        assay: one of DNASE, ATAC, CAGE, CHIP.
        cell_type: name from :attr:`OracleParams.cell_types`.
        strand: "+", "-" (CAGE only: genes on that strand) or "." (unstranded).
        target: TF name for CHIP tracks, else None.
    """

    id: str
    assay: str
    cell_type: str
    strand: str = "."
    target: str | None = None


@dataclass(frozen=True)
class OracleConfig:
    """Numeric knobs of the oracle (see :mod:`enformer_lite.simulate.oracle` for the formulas)."""

    pseudo: float = 0.1  # pseudo-frequency added to motif columns
    background: tuple[float, float, float, float] = (0.295, 0.205, 0.205, 0.295)
    p_value: float = 1e-6  # per-strand background p-value of the occupancy midpoint
    insulator_p_value: float = 1e-8  # the same for the insulator (long motif, many sites)
    max_margin_bits: float = 1.0  # midpoint at least this far below the best score
    temperature_bits: float = 0.5  # sigmoid width of occupancy
    occupancy_cutoff: float = 20.0  # strands more than this many widths below the midpoint are unbound
    half_window: int = 150  # w: element activity sums occupancy over 2w+1 bp
    hill_offset: float = 1.0  # x0
    hill_k: float = 1.2  # K
    hill_n: float = 2.0  # n
    insulator: str = "CTCF"
    insulator_accessibility: float = 1.5  # a_ins
    block: float = 0.5  # a fully bound insulator site passes 1 - block of the contact
    contact_d0: float = 5_000.0
    contact_alpha: float = 0.7
    contact_min: int = 500  # contact is 0 below this distance ...
    contact_ramp: int = 1_000  # ... and reaches its full value this much further
    max_distance: int = 150_000  # contact is 0 beyond this distance
    distal_distance: int = 20_000  # enhancer input from farther than this counts as distal
    basal: float = 0.1
    cage_scale: float = 500.0
    cage_background: float = 0.002  # per base (split between strands of a stranded pair)
    tss_half_width: int = 8  # CAGE peak: triangle over tss +- this many bp
    dnase_background: float = 0.03
    dnase_scale: float = 1.5
    chip_background: float = 0.03
    chip_scale: float = 2.0
    chunk: int = 1 << 20  # bases per scan chunk of a whole-sequence evaluation


@dataclass(frozen=True, eq=False)
class OracleParams:
    """Everything the oracle needs besides the sequence.

    Attributes:
        motifs: K motifs; their ``name`` is the TF name.
        cell_types: C cell-type names.
        activity: (C, K) TF activity per cell type (negative = repressor).
        tracks: the tracks to produce, in output column order.
        config: numeric knobs.
    """

    motifs: tuple[Motif, ...]
    cell_types: tuple[str, ...]
    activity: npt.NDArray[np.float64]
    tracks: tuple[TrackSpec, ...]
    config: OracleConfig = field(default_factory=OracleConfig)

    def __post_init__(self) -> None:
        names = [m.name for m in self.motifs]
        shape = (len(self.cell_types), len(self.motifs))
        if np.shape(self.activity) != shape:
            raise ValueError(f"activity has shape {np.shape(self.activity)}, expected {shape}")
        if self.config.insulator not in names:
            raise ValueError(f"insulator TF {self.config.insulator!r} is not among the motifs {names}")
        for track in self.tracks:
            if track.assay not in ASSAYS:
                raise ValueError(f"track {track.id}: assay {track.assay!r} not in {ASSAYS}")
            if track.cell_type not in self.cell_types:
                raise ValueError(f"track {track.id}: unknown cell type {track.cell_type!r}")
            if track.strand not in ("+", "-", "."):
                raise ValueError(f"track {track.id}: strand must be +, - or ., got {track.strand!r}")
            if track.strand != "." and track.assay != "CAGE":
                raise ValueError(f"track {track.id}: only CAGE tracks can be stranded")
            if track.assay == "CHIP" and track.target not in names:
                raise ValueError(f"track {track.id}: ChIP target {track.target!r} is not among the motifs")

    @property
    def tf_names(self) -> tuple[str, ...]:
        """(K,) TF names, in motif order."""
        return tuple(m.name for m in self.motifs)


@dataclass(frozen=True, eq=False)
class GeneSet:
    """Genes inside one sequence.

    Attributes:
        ids: G gene identifiers.
        tss: (G,) int64 0-based TSS positions.
        strand: (G,) int8, +1 or -1.
    """

    ids: tuple[str, ...]
    tss: npt.NDArray[np.int64]
    strand: npt.NDArray[np.int8]

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.tss) == len(self.strand)):
            raise ValueError("GeneSet: ids, tss and strand differ in length")
        if np.any((self.strand != 1) & (self.strand != -1)):
            raise ValueError("GeneSet: strand must be +1 or -1")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> GeneSet:
        """A set of no genes."""
        return cls((), np.zeros(0, np.int64), np.zeros(0, np.int8))


def as_codes(seq: str | bytes | npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Base codes (L,) uint8 from a string (any case) or an array of codes."""
    if isinstance(seq, (str, bytes)):
        return encode(seq)
    codes = np.asarray(seq, dtype=np.uint8)
    if codes.ndim != 1 or (codes > N_CODE).any():
        raise ValueError("base codes must be a 1-D array of values 0..4")
    return codes


def extended(codes: npt.NDArray[np.uint8], lo: int, hi: int, pad: int) -> npt.NDArray[np.uint8]:
    """``codes[lo - pad : hi + pad]``, shape (hi - lo + 2 pad,), with N where the range
    leaves the sequence (L,)."""
    length = codes.shape[0]
    out = np.full(hi - lo + 2 * pad, N_CODE, dtype=np.uint8)
    a, b = max(lo - pad, 0), min(hi + pad, length)
    if b > a:
        out[a - (lo - pad) : b - (lo - pad)] = codes[a:b]
    return out
