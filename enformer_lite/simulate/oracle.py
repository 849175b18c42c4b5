"""The exact oracle of the simulated world: expected track values as a function of DNA.

Model (all positions 0-based, per base):

1. Motif occupancy. Each motif k is scanned on both strands with integer
   log-odds scores ``s``; a strand is bound with probability
   ``sigmoid((s - theta_k) / tau)``; the two strands combine as
   ``1 - (1 - o+)(1 - o-)``. Windows touching N (or the sequence ends) score
   nothing. Occupancy ``O[k, c]`` sits at the motif centre ``c``.
2. Element activity per cell type c: ``x_c(p) = sum_k A[c, k] * sum_{|q-p|<=w} O[k, q]``
   with the cell-type TF activity matrix ``A`` (the insulator TF left out), then a
   thresholded Hill function ``E_c = h(x_c)``, ``h(x) = u^n / (K^n + u^n)``,
   ``u = max(x - x0, 0)``, so one motif does little and combinations act.
3. Accessibility ``D_c = h(x_c + a_ins * S_ins)`` where ``S_ins`` is the smoothed
   insulator (CTCF) occupancy; DNase/ATAC per base is ``bg + scale * D_c``.
   ChIP of TF k per base is ``bg + scale * S_k`` (times the TF's activity in the
   cell type unless it is the insulator).
4. Genes. Promoter activity ``P_c(g) = E_c(tss)``. Enhancer input
   ``I_c(g) = 1/(2w+1) * sum_p E_c(p) * contact(|p - tss|) * insulation(p, tss)``
   with ``contact(d) = ramp(d) * (1 + d/d0)^-alpha`` (0 beyond ``max_distance``;
   ``ramp`` hands the promoter's own neighbourhood to ``P``) and
   ``insulation = prod over insulator sites q strictly between (1 - block * O_ins[q])``.
   Expected CAGE counts at the TSS: ``cage_scale * P_c * (basal + I_c)``, spread
   over a small triangular peak on the gene's strand.

Because every quantity is local in sequence (motif scan + box of ``w``) or a sum
over a window of ``max_distance`` around each TSS, a variant can be scored exactly
by recomputing only its neighbourhood and the genes in reach
(:meth:`OracleResult.variant_effect`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import torch

from enformer_lite.sequence import N_CODE, decode, encode
from enformer_lite.simulate.motifs import SCORE_UNITS, Motif, background_threshold

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
    """Numeric knobs of the oracle (see the module docstring for the formulas)."""

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
        return cls((), np.zeros(0, np.int64), np.zeros(0, np.int8))


@dataclass(eq=False)
class Fields:
    """Per-base oracle fields over a stretch of n bases.

    Attributes:
        enhancer: (C, n) float32 element activity E_c.
        access: (C, n) float32 accessibility D_c.
        chip: (J, n) float32 smoothed occupancy of the ChIP targets.
        insulation: (n,) float64 -log(1 - block * O_ins) per base.
        not_n: (n,) bool, False at N.
    """

    enhancer: npt.NDArray[np.float32]
    access: npt.NDArray[np.float32]
    chip: npt.NDArray[np.float32]
    insulation: npt.NDArray[np.float64]
    not_n: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.not_n.shape[0])

    @staticmethod
    def concatenate(parts: list[Fields]) -> Fields:
        return Fields(
            np.concatenate([p.enhancer for p in parts], axis=1),
            np.concatenate([p.access for p in parts], axis=1),
            np.concatenate([p.chip for p in parts], axis=1),
            np.concatenate([p.insulation for p in parts]),
            np.concatenate([p.not_n for p in parts]),
        )

    def slice(self, start: int, stop: int) -> Fields:
        return Fields(
            self.enhancer[:, start:stop],
            self.access[:, start:stop],
            self.chip[:, start:stop],
            self.insulation[start:stop],
            self.not_n[start:stop],
        )


@dataclass(eq=False)
class SparseFields:
    """The non-zero part of the fields that gene inputs need, in sequence coordinates.

    Attributes:
        active: (m,) sorted positions where any cell type has E > 0.
        enhancer: (C, m) float32 E at those positions.
        sites: (k,) sorted positions with insulation > 0.
        insulation: (k,) float64 insulation at those positions.
    """

    active: npt.NDArray[np.int64]
    enhancer: npt.NDArray[np.float32]
    sites: npt.NDArray[np.int64]
    insulation: npt.NDArray[np.float64]

    @classmethod
    def from_fields(cls, fields: Fields, offset: int = 0) -> SparseFields:
        active = np.flatnonzero(fields.enhancer.any(axis=0))
        sites = np.flatnonzero(fields.insulation)
        return cls(active + offset, fields.enhancer[:, active], sites + offset, fields.insulation[sites])

    def window(self, a: int, b: int, shift: int = 0) -> SparseFields:
        """Entries with position in [a, b), positions moved by ``shift``."""
        i, j = np.searchsorted(self.active, [a, b])
        k, m = np.searchsorted(self.sites, [a, b])
        return SparseFields(
            self.active[i:j] + shift, self.enhancer[:, i:j], self.sites[k:m] + shift, self.insulation[k:m]
        )

    @staticmethod
    def concatenate(parts: list[SparseFields]) -> SparseFields:
        return SparseFields(
            np.concatenate([p.active for p in parts]),
            np.concatenate([p.enhancer for p in parts], axis=1),
            np.concatenate([p.sites for p in parts]),
            np.concatenate([p.insulation for p in parts]),
        )


@dataclass(eq=False)
class VariantEffect:
    """Exact effect of replacing ``ref`` by ``alt`` at ``pos``.

    Attributes:
        pos: 0-based position of the first reference base.
        ref, alt: alleles as upper-case strings (alt may be empty or N's).
        gene_index: (n,) indices into the GeneSet of every gene whose window reaches
            the change (all other genes are exactly unchanged).
        cage_ref, cage_alt: (n, C) expected CAGE counts at the TSS per cell type.
        bin_size: bin size of the windows below.
        first_bin: index of the first bin of both windows.
        window_ref: (B_ref, T) expected tracks of the reference over the changed stretch.
        window_alt: (B_alt, T) expected tracks of the edited sequence, bins counted from
            the same start (they differ in number for indels).
        variant_bin: index of the bin holding ``pos``.
    """

    pos: int
    ref: str
    alt: str
    gene_index: npt.NDArray[np.int64]
    cage_ref: npt.NDArray[np.float64]
    cage_alt: npt.NDArray[np.float64]
    bin_size: int
    first_bin: int
    window_ref: npt.NDArray[np.float64]
    window_alt: npt.NDArray[np.float64]
    variant_bin: int

    @property
    def cage_delta(self) -> npt.NDArray[np.float64]:
        """(n, C) alt - ref CAGE at each reached gene's TSS."""
        return self.cage_alt - self.cage_ref

    @property
    def bin_ref(self) -> npt.NDArray[np.float64]:
        """(T,) reference tracks at the variant's bin."""
        return self.window_ref[self.variant_bin - self.first_bin]

    @property
    def bin_alt(self) -> npt.NDArray[np.float64]:
        """(T,) edited tracks at the variant's bin."""
        return self.window_alt[self.variant_bin - self.first_bin]


def as_codes(seq: str | bytes | npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Base codes (L,) uint8 from a string (any case) or an array of codes."""
    if isinstance(seq, (str, bytes)):
        return encode(seq)
    codes = np.asarray(seq, dtype=np.uint8)
    if codes.ndim != 1 or (codes > N_CODE).any():
        raise ValueError("base codes must be a 1-D array of values 0..4")
    return codes


def _hill(x: np.ndarray, offset: float, k: float, n: float) -> np.ndarray:
    """Thresholded Hill function u^n / (k^n + u^n), u = max(x - offset, 0)."""
    out = np.zeros_like(x)
    above = x > offset  # usually a small fraction of positions
    u = x[above] - offset
    un = u * u if n == 2.0 else u**n
    out[above] = un / (k**n + un)
    return out


class Oracle:
    """A compiled oracle: motif filters, thresholds and the contact table."""

    def __init__(self, params: OracleParams) -> None:
        self.params = params
        cfg = params.config
        self.config = cfg
        self.n_cells = len(params.cell_types)
        names = params.tf_names
        self.lengths = np.array([m.length for m in params.motifs])
        self.max_len = int(self.lengths.max())
        self.offsets = (self.lengths - 1) // 2
        log_odds = [m.quantised_log_odds(cfg.pseudo, cfg.background) for m in params.motifs]
        p_values = [cfg.insulator_p_value if m.name == cfg.insulator else cfg.p_value for m in params.motifs]
        self.thresholds = np.array(
            [background_threshold(q, p, cfg.max_margin_bits, cfg.background) for q, p in zip(log_odds, p_values)]
        )
        filters = np.zeros((2 * len(log_odds), 4, self.max_len), dtype=np.float32)
        for k, q in enumerate(log_odds):
            filters[2 * k, :, : q.shape[0]] = q.T
            filters[2 * k + 1, :, : q.shape[0]] = q[::-1, ::-1].T  # reverse complement
        self._filters = torch.from_numpy(filters)
        # the same weights as a look-up table (2K, M, 5) with a zero column for N
        self._table = np.concatenate(
            [filters.transpose(0, 2, 1), np.zeros((filters.shape[0], self.max_len, 1), np.float32)], axis=2
        )
        self.small_input = 16_384
        self.log_odds = log_odds
        self.insulator = names.index(cfg.insulator)
        enh = np.array(params.activity, dtype=np.float64)
        enh[:, self.insulator] = 0.0
        self.enhancer_weights = enh  # (C, K)
        self.chip_targets = sorted(
            {names.index(t.target) for t in params.tracks if t.assay == "CHIP"} | {self.insulator}
        )
        self.pad = self.max_len + cfg.half_window
        d = np.arange(cfg.max_distance + 1, dtype=np.float64)
        ramp = np.clip((d - cfg.contact_min) / cfg.contact_ramp, 0.0, 1.0)
        self.contact = ramp * (1.0 + d / cfg.contact_d0) ** (-cfg.contact_alpha)
        hw = cfg.tss_half_width
        tri = (hw + 1 - np.abs(np.arange(-hw, hw + 1))).astype(np.float64)
        self.tss_kernel = tri / tri.sum()
        self.cell_index = {c: i for i, c in enumerate(params.cell_types)}

    # ------------------------------------------------------------------ scanning
    def scores(self, padded: npt.NDArray[np.uint8]) -> np.ndarray:
        """Integer log-odds scores (2K, n - max_len + 1) of every motif (rows 2k: forward,
        2k+1: reverse strand) starting at each position of ``padded`` (n,); N scores 0.

        Long inputs use a convolution, short ones a table look-up (the convolution's
        set-up cost dominates there); both give the same exact integers.
        """
        n_out = padded.shape[0] - self.max_len + 1
        if n_out <= self.small_input:
            windows = np.lib.stride_tricks.sliding_window_view(padded, self.max_len)[:n_out]  # (n, M)
            return self._table[:, np.arange(self.max_len), windows].sum(axis=2)  # (2K, n)
        onehot = np.zeros((4, padded.shape[0]), dtype=np.float32)
        valid = padded < N_CODE
        onehot[padded[valid], np.flatnonzero(valid)] = 1.0
        with torch.no_grad():
            out = torch.nn.functional.conv1d(torch.from_numpy(onehot)[None], self._filters)[0]
        return out.numpy()

    def occupancy(self, ext: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """Motif occupancy at motif centres, shape (K, n) for codes ``ext`` (n,).

        Windows that touch N or run past the end of ``ext`` are unbound, and so is a
        strand whose occupancy would be below ``exp(-occupancy_cutoff)``.
        """
        cfg = self.config
        n = ext.shape[0]
        n_motifs = len(self.lengths)
        padded = np.concatenate([ext, np.full(self.max_len, N_CODE, np.uint8)])
        scores = self.scores(padded)[:, :n]  # (2K, n) exact integers
        units = SCORE_UNITS * cfg.temperature_bits
        # Keep only strands close enough to the midpoint to matter.
        floor = np.repeat(self.thresholds - cfg.occupancy_cutoff * units, 2)
        channel, start = np.nonzero(scores >= floor[:, None])
        hit_scores = scores[channel, start].astype(np.float64)
        motif = channel // 2
        n_count = np.concatenate([[0], np.cumsum(padded == N_CODE)])
        clean = n_count[start + self.lengths[motif]] == n_count[start]
        channel, start, motif, hit_scores = channel[clean], start[clean], motif[clean], hit_scores[clean]
        bound = 1.0 / (1.0 + np.exp(-(hit_scores - self.thresholds[motif]) / units))
        centre = start + self.offsets[motif]
        inside = centre < n
        out = np.zeros((n_motifs, n))
        for strand in (0, 1):
            pick = inside & (channel % 2 == strand)
            k, c = motif[pick], centre[pick]
            # (k, c) pairs are unique within a strand; combine strands as 1 - (1-o+)(1-o-)
            out[k, c] = 1.0 - (1.0 - out[k, c]) * (1.0 - bound[pick])
        return out

    def segment_fields(self, ext: npt.NDArray[np.uint8]) -> Fields:
        """Fields for the central part of ``ext``: codes of [lo - pad, hi + pad), N outside
        the sequence. Returns fields for the hi - lo central bases."""
        cfg = self.config
        pad, w = self.pad, cfg.half_window
        n = ext.shape[0] - 2 * pad
        occ = self.occupancy(ext)

        def box(values: np.ndarray) -> np.ndarray:
            # sum over [p - w, p + w] for the central positions p
            csum = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)], axis=-1)
            return csum[..., pad + w + 1 : pad + w + 1 + n] - csum[..., pad - w : pad - w + n]

        drive = box(self.enhancer_weights @ occ)  # (C, n)
        smoothed_chip = box(occ[self.chip_targets])  # (J, n)
        s_ins = smoothed_chip[self.chip_targets.index(self.insulator)]
        enhancer = _hill(drive, cfg.hill_offset, cfg.hill_k, cfg.hill_n)
        access = _hill(drive + cfg.insulator_accessibility * s_ins, cfg.hill_offset, cfg.hill_k, cfg.hill_n)
        insulation = -np.log1p(-cfg.block * occ[self.insulator, pad : pad + n])
        return Fields(
            enhancer.astype(np.float32),
            access.astype(np.float32),
            smoothed_chip.astype(np.float32),
            insulation,
            ext[pad : pad + n] != N_CODE,
        )

    def fields(self, codes: npt.NDArray[np.uint8]) -> Fields:
        """Fields of a whole sequence (L,), computed chunk by chunk."""
        length = codes.shape[0]
        step = self.config.chunk
        parts = [
            self.segment_fields(_extended(codes, lo, min(lo + step, length), self.pad)) for lo in range(0, length, step)
        ]
        if not parts:
            return self.segment_fields(_extended(codes, 0, 0, self.pad))
        return Fields.concatenate(parts)

    # ------------------------------------------------------------------ genes
    def gene_input(self, sparse: SparseFields, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Enhancer input of a TSS at ``t``.

        Args:
            sparse: active positions and insulator sites, at least within
                ``max_distance`` of ``t``.
            t: TSS position.

        Returns:
            total: (C,) enhancer input I_c.
            distal: (C,) the part from farther than ``distal_distance``.
        """
        cfg = self.config
        pos, values = sparse.active, sparse.enhancer
        dist = np.abs(pos - t)
        keep = (dist <= cfg.max_distance) & (dist > 0)
        pos, dist, values = pos[keep], dist[keep], values[:, keep]
        weight = self.contact[dist]
        keep = weight > 0
        pos, dist, weight, values = pos[keep], dist[keep], weight[keep], values[:, keep]
        # blocked(p, t) = sum of insulation strictly between p and t
        cum = np.concatenate([[0.0], np.cumsum(sparse.insulation)])

        def upto(x: np.ndarray | int) -> np.ndarray:
            return cum[np.searchsorted(sparse.sites, x, side="right")]

        left = pos < t
        blocked = np.where(left, upto(t - 1) - upto(pos), upto(pos - 1) - upto(t))
        weight = weight * np.exp(-blocked) / (2 * cfg.half_window + 1)
        contrib = values.astype(np.float64) * weight
        distal = dist > cfg.distal_distance
        return contrib.sum(axis=1), contrib[:, distal].sum(axis=1)

    def cage(self, promoter: np.ndarray, enhancer_input: np.ndarray) -> np.ndarray:
        """Expected CAGE counts at the TSS from P (..., C) and I (..., C)."""
        return self.config.cage_scale * promoter * (self.config.basal + enhancer_input)

    # ------------------------------------------------------------------ tracks
    def base_tracks(
        self,
        fields: Fields,
        start: int,
        tss: np.ndarray,
        strand: np.ndarray,
        cage: np.ndarray,
    ) -> npt.NDArray[np.float64]:
        """Expected per-base tracks (n, T) for ``fields`` covering [start, start + n).

        ``tss``/``strand``/``cage`` (G,), (G,), (G, C) describe the genes whose CAGE
        peaks may fall inside the stretch (others are ignored by position).
        """
        cfg = self.config
        n = len(fields)
        not_n = fields.not_n.astype(np.float64)
        out = np.empty((n, len(self.params.tracks)))
        hw = cfg.tss_half_width
        near = (tss >= start - hw) & (tss < start + n + hw)
        for j, track in enumerate(self.params.tracks):
            c = self.cell_index[track.cell_type]
            if track.assay in ("DNASE", "ATAC"):
                out[:, j] = (cfg.dnase_background + cfg.dnase_scale * fields.access[c]) * not_n
            elif track.assay == "CHIP":
                k = self.params.tf_names.index(track.target)
                gain = 1.0 if k == self.insulator else max(float(self.params.activity[c, k]), 0.0)
                out[:, j] = (
                    cfg.chip_background + cfg.chip_scale * gain * fields.chip[self.chip_targets.index(k)]
                ) * not_n
            else:
                share = 1.0 if track.strand == "." else 0.5
                col = cfg.cage_background * share * not_n
                want = near if track.strand == "." else near & (strand == (1 if track.strand == "+" else -1))
                for g in np.flatnonzero(want):
                    lo = int(tss[g]) - hw - start
                    a, b = max(lo, 0), min(lo + 2 * hw + 1, n)
                    col[a:b] += cage[g, c] * self.tss_kernel[a - lo : b - lo]
                out[:, j] = col
        return out

    def evaluate(self, codes: str | npt.ArrayLike, genes: GeneSet | None = None) -> OracleResult:
        """Run the oracle on a whole sequence (codes or a string, any case)."""
        return OracleResult(self, as_codes(codes), genes if genes is not None else GeneSet.empty())


def _extended(codes: np.ndarray, lo: int, hi: int, pad: int) -> npt.NDArray[np.uint8]:
    """codes[lo - pad : hi + pad] with N where the range leaves the sequence."""
    length = codes.shape[0]
    out = np.full(hi - lo + 2 * pad, N_CODE, dtype=np.uint8)
    a, b = max(lo - pad, 0), min(hi + pad, length)
    if b > a:
        out[a - (lo - pad) : b - (lo - pad)] = codes[a:b]
    return out


@dataclass(frozen=True)
class _Edit:
    """A replacement of codes[pos:pos+r] by ``alt`` (r = len(ref))."""

    pos: int
    ref_len: int
    alt: npt.NDArray[np.uint8]

    @property
    def delta(self) -> int:
        return int(self.alt.shape[0]) - self.ref_len

    def new_codes(self, codes: np.ndarray, start: int, stop: int) -> npt.NDArray[np.uint8]:
        """Edited sequence over new coordinates [start, stop), N outside it."""
        idx = np.arange(start, stop)
        out = np.full(idx.shape[0], N_CODE, dtype=np.uint8)
        a = self.alt.shape[0]
        left = (idx >= 0) & (idx < self.pos)
        mid = (idx >= self.pos) & (idx < self.pos + a)
        old = idx - self.delta
        right = (idx >= self.pos + a) & (old < codes.shape[0])
        out[left] = codes[idx[left]]
        out[mid] = self.alt[idx[mid] - self.pos]
        out[right] = codes[old[right]]
        return out

    def new_tss(self, tss: np.ndarray) -> np.ndarray:
        """TSS positions after the edit; a TSS inside the replaced bases stays put,
        or moves to the last alt base if the edit got shorter."""
        moved = tss.copy()
        after = tss >= self.pos + self.ref_len
        moved[after] += self.delta
        inside = (tss >= self.pos) & ~after
        moved[inside] = self.pos + np.minimum(tss[inside] - self.pos, max(self.alt.shape[0] - 1, 0))
        return moved


class OracleResult:
    """The oracle evaluated on one sequence and its genes, with cached fields.

    Attributes:
        oracle, codes (L,), genes.
        fields: per-base fields over the whole sequence.
        promoter, enhancer_input, distal_input, cage: (G, C) per gene and cell type.
    """

    def __init__(self, oracle: Oracle, codes: npt.NDArray[np.uint8], genes: GeneSet) -> None:
        length = codes.shape[0]
        if len(genes) and (genes.tss.min() < 0 or genes.tss.max() >= length):
            bad = int(np.flatnonzero((genes.tss < 0) | (genes.tss >= length))[0])
            raise ValueError(
                f"gene {genes.ids[bad]}: TSS {int(genes.tss[bad])} outside the sequence of length {length}"
            )
        self.oracle = oracle
        self.codes = codes
        self.genes = genes
        self.fields = oracle.fields(codes)
        cells = oracle.n_cells
        self.promoter = np.zeros((len(genes), cells))
        self.enhancer_input = np.zeros((len(genes), cells))
        self.distal_input = np.zeros((len(genes), cells))
        reach = oracle.config.max_distance
        self.sparse = SparseFields.from_fields(self.fields)
        for g, t in enumerate(genes.tss.tolist()):
            self.promoter[g] = self.fields.enhancer[:, t]
            self.enhancer_input[g], self.distal_input[g] = oracle.gene_input(
                self.sparse.window(t - reach, t + reach + 1), t
            )
        self.cage = oracle.cage(self.promoter, self.enhancer_input)

    @property
    def length(self) -> int:
        return int(self.codes.shape[0])

    @cached_property
    def distal_share(self) -> npt.NDArray[np.float64]:
        """(G, C) share of CAGE owed to enhancers farther than ``distal_distance``:
        distal input / (basal + total input)."""
        return self.distal_input / (self.oracle.config.basal + self.enhancer_input)

    def base_tracks(self, start: int, stop: int) -> npt.NDArray[np.float64]:
        """Expected per-base signal (stop - start, T)."""
        return self.oracle.base_tracks(
            self.fields.slice(start, stop), start, self.genes.tss, self.genes.strand, self.cage
        )

    def tracks(self, bin_size: int = 128) -> npt.NDArray[np.float64]:
        """Expected track values (ceil(L / bin_size), T): per-base signal summed per bin
        (the last bin may be partial)."""
        n_bins = math.ceil(self.length / bin_size)
        out = np.zeros((n_bins, len(self.oracle.params.tracks)))
        step = max(self.oracle.config.chunk // bin_size, 1) * bin_size
        for start in range(0, self.length, step):
            stop = min(start + step, self.length)
            out[start // bin_size : math.ceil(stop / bin_size)] = _bin_sum(self.base_tracks(start, stop), bin_size)
        return out

    # ------------------------------------------------------------------ edits
    def variant_effect(
        self, pos: int, ref: str | npt.ArrayLike, alt: str | npt.ArrayLike, bin_size: int = 128
    ) -> VariantEffect:
        """Exact effect of replacing ``ref`` (which must match the sequence at ``pos``)
        by ``alt``, computed by rescanning only the neighbourhood.

        Raises:
            ValueError: if ``ref`` does not match the sequence or leaves it.
        """
        ref_codes, alt_codes = as_codes(ref), as_codes(alt)
        r = ref_codes.shape[0]
        if pos < 0 or pos + r > self.length:
            raise ValueError(f"variant at {pos} with REF of length {r} leaves the sequence of length {self.length}")
        if not np.array_equal(self.codes[pos : pos + r], ref_codes):
            raise ValueError(
                f"variant at {pos}: REF {decode(ref_codes)} does not match the sequence {decode(self.codes[pos : pos + r])}"
            )
        edit = _Edit(pos, r, alt_codes)
        oracle, pad = self.oracle, self.oracle.pad
        new_length = self.length + edit.delta
        lo = max(0, pos - pad)
        hi_new = min(new_length, pos + alt_codes.shape[0] + pad)
        local = oracle.segment_fields(edit.new_codes(self.codes, lo - pad, hi_new + pad))
        splice = _Splice(self, local, lo, hi_new, edit.delta)

        reach = oracle.config.max_distance
        new_tss = edit.new_tss(self.genes.tss)
        hit = (new_tss + reach >= lo) & (new_tss - reach < hi_new) | (
            (self.genes.tss + reach >= lo) & (self.genes.tss - reach < hi_new - edit.delta)
        )
        index = np.flatnonzero(hit)
        cage_alt_all = self.cage.copy()
        unchanged = (
            edit.delta == 0
            and np.array_equal(local.enhancer, self.fields.enhancer[:, lo:hi_new])
            and np.array_equal(local.insulation, self.fields.insulation[lo:hi_new])
        )
        for g in [] if unchanged else index.tolist():
            t = int(new_tss[g])
            total, _ = oracle.gene_input(splice.sparse(t - reach, t + reach + 1), t)
            promoter = splice.window(t, t + 1).enhancer[:, 0].astype(np.float64)
            cage_alt_all[g] = oracle.cage(promoter, total)

        first_bin = lo // bin_size
        start = first_bin * bin_size
        stop_ref = min(self.length, math.ceil((hi_new - edit.delta) / bin_size) * bin_size)
        stop_alt = min(new_length, math.ceil(hi_new / bin_size) * bin_size)
        window_ref = _bin_sum(self.base_tracks(start, stop_ref), bin_size)
        window_alt = _bin_sum(
            oracle.base_tracks(splice.window(start, stop_alt), start, new_tss, self.genes.strand, cage_alt_all),
            bin_size,
        )
        return VariantEffect(
            pos=pos,
            ref=decode(ref_codes),
            alt=decode(alt_codes),
            gene_index=index,
            cage_ref=self.cage[index],
            cage_alt=cage_alt_all[index],
            bin_size=bin_size,
            first_bin=first_bin,
            window_ref=window_ref,
            window_alt=window_alt,
            variant_bin=pos // bin_size,
        )

    def element_effect(self, start: int, end: int, bin_size: int = 128) -> VariantEffect:
        """Exact effect of removing the element [start, end) (replacing it by N)."""
        if not 0 <= start < end <= self.length:
            raise ValueError(f"element [{start}, {end}) is empty or leaves the sequence of length {self.length}")
        return self.variant_effect(start, self.codes[start:end], np.full(end - start, N_CODE, np.uint8), bin_size)


class _Splice:
    """Fields of an edited sequence: the reference's fields left of ``lo``, ``local``
    over [lo, hi) (new coordinates), the reference's shifted by ``delta`` from ``hi`` on."""

    def __init__(self, ref: OracleResult, local: Fields, lo: int, hi: int, delta: int) -> None:
        self.ref, self.local, self.lo, self.hi, self.delta = ref, local, lo, hi, delta
        self.local_sparse = SparseFields.from_fields(local, offset=lo)

    def window(self, a: int, b: int) -> Fields:
        """Dense fields of the edited sequence over new coordinates [a, b)."""
        old = self.ref.fields
        parts: list[Fields] = []
        if a < self.lo:
            parts.append(old.slice(a, min(b, self.lo)))
        if b > self.lo and a < self.hi:
            parts.append(self.local.slice(max(a, self.lo) - self.lo, min(b, self.hi) - self.lo))
        if b > self.hi:
            parts.append(old.slice(max(a, self.hi) - self.delta, b - self.delta))
        return parts[0] if len(parts) == 1 else Fields.concatenate(parts)

    def sparse(self, a: int, b: int) -> SparseFields:
        """Sparse fields of the edited sequence over new coordinates [a, b)."""
        old = self.ref.sparse
        return SparseFields.concatenate(
            [
                old.window(a, min(b, self.lo)),
                self.local_sparse.window(max(a, self.lo), min(b, self.hi)),
                old.window(max(a, self.hi) - self.delta, b - self.delta, shift=self.delta),
            ]
        )


def _bin_sum(values: np.ndarray, bin_size: int) -> np.ndarray:
    """Sum (n, T) per-base values into (ceil(n / bin_size), T) bins."""
    n = values.shape[0]
    n_bins = math.ceil(n / bin_size)
    padded = np.zeros((n_bins * bin_size, values.shape[1]))
    padded[:n] = values
    return padded.reshape(n_bins, bin_size, values.shape[1]).sum(axis=1)


# ---------------------------------------------------------------------- plain API
def expected_tracks(
    codes: str | npt.ArrayLike, genes: GeneSet | None, params: OracleParams, bin_size: int = 128
) -> npt.NDArray[np.float64]:
    """Expected track values (ceil(L / bin_size), T) of a sequence with its genes."""
    return Oracle(params).evaluate(codes, genes).tracks(bin_size)


def variant_effect(
    codes: str | npt.ArrayLike,
    genes: GeneSet | None,
    params: OracleParams,
    pos: int,
    ref: str | npt.ArrayLike,
    alt: str | npt.ArrayLike,
    bin_size: int = 128,
) -> VariantEffect:
    """True effect of a substitution or indel (see :meth:`OracleResult.variant_effect`)."""
    return Oracle(params).evaluate(codes, genes).variant_effect(pos, ref, alt, bin_size)


def element_effect(
    codes: str | npt.ArrayLike, genes: GeneSet | None, params: OracleParams, start: int, end: int
) -> VariantEffect:
    """True effect on every gene of replacing [start, end) by N."""
    return Oracle(params).evaluate(codes, genes).element_effect(start, end)
