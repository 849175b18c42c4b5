"""The oracle against its documented formulas, recomputed by hand.

Everything below is written from the formulas in the docstrings of
``enformer_lite.simulate.oracle`` (and its step modules), not from the oracle's code:
plain numpy, direct sums and products, thresholds by enumerating every word. The
example is small and hand-built: three short motifs (two activators, one CTCF-like
insulator), two cell types (one where an activator represses), two genes on opposite
strands, enhancers inside the contact ramp, beyond ``max_distance`` and beyond the
insulator, and a stretch of N.

Each perturbed variant of a formula must NOT match, so the comparison can fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from enformer_lite.data.sequence import encode
from enformer_lite.simulate.motifs import SCORE_UNITS, Motif
from enformer_lite.simulate.oracle import GeneSet, Oracle, OracleConfig, OracleParams, TrackSpec

CONSENSUS = {"ACT1": "GATTACAC", "ACT2": "GGAAGTC", "CTCF": "CCACTAGGG"}  # lengths 8, 7, 9
TFS = tuple(CONSENSUS)
CELLS = ("alpha", "beta")
# TF activity A (C, K); the insulator column must not drive activity (A' zeroes it)
ACTIVITY = np.array([[1.0, 0.8, 0.4], [-0.5, 1.1, 0.4]])
CONFIG = OracleConfig(
    p_value=1e-3,  # activators: the p-value sets theta
    insulator_p_value=1e-9,  # unreachable for a 9-mer: theta = best - max_margin_bits
    half_window=30,
    contact_min=200,
    contact_ramp=400,
    contact_d0=1_000.0,
    contact_alpha=0.7,
    max_distance=4_000,
    distal_distance=1_500,
    tss_half_width=4,
    chunk=4_096,  # several scan chunks: the formulas must not see them
)
TRACKS = (
    TrackSpec("DNASE_alpha", "DNASE", "alpha"),
    TrackSpec("ATAC_beta", "ATAC", "beta"),
    TrackSpec("CAGE_alpha_plus", "CAGE", "alpha", "+"),
    TrackSpec("CAGE_alpha_minus", "CAGE", "alpha", "-"),
    TrackSpec("CAGE_beta", "CAGE", "beta"),
    TrackSpec("CHIP_CTCF_alpha", "CHIP", "alpha", target="CTCF"),
    TrackSpec("CHIP_ACT1_beta", "CHIP", "beta", target="ACT1"),  # repressor there: gain 0
    TrackSpec("CHIP_ACT2_alpha", "CHIP", "alpha", target="ACT2"),
)
LENGTH = 12_050
BIN = 100  # the last bin is partial
TSS1, TSS2 = 5_000, 9_000  # + and - strand
CTCF_SITE = 6_800  # between TSS1 and the enhancer at 7_300, not between that enhancer and TSS2
GAP = (11_500, 11_600)
RTOL, ATOL = 1e-5, 1e-9  # fields are stored as float32


def motif(name: str) -> Motif:
    counts = np.full((len(CONSENSUS[name]), 4), 2.0)
    counts[np.arange(counts.shape[0]), encode(CONSENSUS[name])] = 94.0
    return Motif(f"TEST.{name}", name, counts)


PARAMS = OracleParams(tuple(motif(tf) for tf in TFS), CELLS, ACTIVITY, TRACKS, CONFIG)


def revcomp(codes: np.ndarray) -> np.ndarray:
    return (3 - codes)[::-1]


def build_sequence() -> np.ndarray:
    rng = np.random.default_rng(2024)
    codes = rng.choice(4, size=LENGTH, p=CONFIG.background).astype(np.uint8)
    clusters = {
        700: ["ACT2", "ACT2", "ACT2"],  # 4.3 kb from TSS1: beyond max_distance
        TSS1 - 24: ["ACT2", "ACT2", "ACT1"],  # promoter of g1
        5_430: ["ACT1", "ACT1", "ACT1"],  # ~450 bp from TSS1: inside the contact ramp; alpha only
        6_000: ["ACT2", "ACT2", "ACT2", "CTCF"],  # an insulator inside an active element
        CTCF_SITE: ["CTCF"],
        7_300: ["ACT1", "ACT2", "ACT2"],  # distal for both genes
        TSS2 - 24: ["ACT2", "ACT1", "ACT2"],  # promoter of g2
        11_420: ["ACT2", "ACT2", "ACT2"],  # next to the gap
    }
    for start, tfs in clusters.items():
        for i, tf in enumerate(tfs):
            site = encode(CONSENSUS[tf])
            codes[start + 20 * i : start + 20 * i + site.shape[0]] = revcomp(site) if i % 2 else site
    codes[GAP[0] : GAP[1]] = 4
    return codes


GENES = GeneSet(("g1", "g2"), np.array([TSS1, TSS2]), np.array([1, -1], dtype=np.int8))


# ---------------------------------------------------------------------- the formulas by hand
def log_odds(m: Motif) -> np.ndarray:
    """(L, 4) rint(SCORE_UNITS * log2(p / bg)), p = (f + pseudo * bg) / (1 + pseudo)."""
    bg = np.array(CONFIG.background)
    f = m.counts / m.counts.sum(axis=1, keepdims=True)
    p = (f + CONFIG.pseudo * bg) / (1 + CONFIG.pseudo)
    return np.rint(SCORE_UNITS * np.log2(p / bg))


def threshold_by_enumeration(lo: np.ndarray, p_value: float) -> float:
    """Lowest reachable score whose background tail P(S >= s) <= p_value (the best score if
    none), but at most max_margin_bits below the best score; every 4^L word enumerated."""
    length = lo.shape[0]
    words = (np.arange(4**length)[:, None] // 4 ** np.arange(length)) % 4  # (4^L, L)
    scores = lo[np.arange(length), words].sum(axis=1)
    probs = np.prod(np.array(CONFIG.background)[words], axis=1)
    best = lo.max(axis=1).sum()
    passing = [s for s in np.unique(scores) if probs[scores >= s].sum() <= p_value]
    theta = min(passing) if passing else best
    return min(theta, best - round(CONFIG.max_margin_bits * SCORE_UNITS))


@pytest.fixture(scope="module")
def thresholds() -> np.ndarray:
    return np.array(
        [
            threshold_by_enumeration(log_odds(m), CONFIG.insulator_p_value if m.name == "CTCF" else CONFIG.p_value)
            for m in PARAMS.motifs
        ]
    )


def hill(x: np.ndarray, perturb: str | None) -> np.ndarray:
    u = np.maximum(x - (0.0 if perturb == "no_hill_offset" else CONFIG.hill_offset), 0.0)
    return u**CONFIG.hill_n / (CONFIG.hill_k**CONFIG.hill_n + u**CONFIG.hill_n)


def contact(d: int, perturb: str | None) -> float:
    if d > CONFIG.max_distance and perturb != "no_max_distance":
        return 0.0
    ramp = 1.0 if perturb == "no_ramp" else min(max((d - CONFIG.contact_min) / CONFIG.contact_ramp, 0.0), 1.0)
    alpha = CONFIG.contact_alpha + (0.1 if perturb == "alpha_plus" else 0.0)
    return ramp * (1.0 + d / CONFIG.contact_d0) ** -alpha


@dataclass
class Hand:
    occupancy: np.ndarray  # (K, L)
    enhancer: np.ndarray  # (C, L)
    access: np.ndarray  # (C, L)
    smoothed: np.ndarray  # (K, L)
    insulation: np.ndarray  # (L,)
    not_n: np.ndarray  # (L,)
    promoter: np.ndarray  # (G, C)
    enhancer_input: np.ndarray  # (G, C)
    distal_input: np.ndarray  # (G, C)
    cage: np.ndarray  # (G, C)
    base: np.ndarray  # (L, T)
    tracks: np.ndarray  # (ceil(L / BIN), T)


def hand_model(codes: np.ndarray, thresholds: np.ndarray, perturb: str | None = None) -> Hand:
    """The documented model step by step on ``codes`` (L,); ``perturb`` names one deliberately
    wrong variant of a formula (see PERTURBATIONS)."""
    n = codes.shape[0]
    tau = SCORE_UNITS * CONFIG.temperature_bits
    w = CONFIG.half_window + (1 if perturb == "box_w_plus_1" else 0)
    ins = TFS.index(CONFIG.insulator)

    # 1. occupancy at motif centres
    occ = np.zeros((len(TFS), n))
    for k, m in enumerate(PARAMS.motifs):
        lo, length = log_odds(m), m.length
        theta = thresholds[k] + (SCORE_UNITS if perturb == "theta_plus_1_bit" else 0)
        for q in range(n - length + 1):  # windows past the end are unbound
            window = codes[q : q + length]
            if (window == 4).any():
                continue
            bound = []
            for strand_codes in (window, revcomp(window)):
                s = lo[np.arange(length), strand_codes].sum()
                unbound = s < theta - CONFIG.occupancy_cutoff * tau
                bound.append(0.0 if unbound else 1 / (1 + math.exp(-(s - theta) / tau)))
            if perturb == "one_strand":
                bound[1] = 0.0
            centre = q + (length // 2 if perturb == "centre_offset" else (length - 1) // 2)
            occ[k, centre] = 1 - (1 - bound[0]) * (1 - bound[1])

    # 2./3. activity, accessibility, smoothed occupancy
    smoothed = np.array([np.convolve(o, np.ones(2 * w + 1), mode="same") for o in occ])  # sum over |q - p| <= w
    weights = ACTIVITY.copy()
    if perturb != "insulator_drives":
        weights[:, ins] = 0.0
    drive = weights @ smoothed
    enhancer = hill(drive, perturb)
    a_ins = 0.0 if perturb == "dnase_without_insulator" else CONFIG.insulator_accessibility
    open_drive = drive + a_ins * smoothed[ins]
    access = hill(open_drive, perturb)

    # 4. genes
    passes = 1.0 - CONFIG.block * occ[ins]  # what each base lets through
    if perturb == "no_insulation":
        passes = np.ones(n)
    norm = 1.0 if perturb == "no_normalisation" else 1 / (2 * w + 1)
    promoter = np.zeros((len(GENES), len(CELLS)))
    total = np.zeros_like(promoter)
    distal = np.zeros_like(promoter)
    for g, t in enumerate(GENES.tss.tolist()):
        promoter[g] = enhancer[:, t]
        for p in np.flatnonzero(enhancer.any(axis=0)):
            d = abs(int(p) - t)
            if d == 0:
                continue
            if perturb == "insulation_inclusive":
                between = passes[min(p, t) : max(p, t) + 1]
            else:
                between = passes[min(p, t) + 1 : max(p, t)]  # strictly between
            contribution = norm * enhancer[:, p] * contact(d, perturb) * np.prod(between)
            total[g] += contribution
            if d > CONFIG.distal_distance:
                distal[g] += contribution
    basal = 0.0 if perturb == "no_basal" else CONFIG.basal
    cage = CONFIG.cage_scale * promoter * (basal + total)

    # tracks per base
    not_n = (codes != 4).astype(float)
    hw = CONFIG.tss_half_width
    offsets = np.arange(-hw, hw + 1)
    peak = (hw + 1 - np.abs(offsets)) / (hw + 1) ** 2
    if perturb == "flat_peak":
        peak = np.full(2 * hw + 1, 1 / (2 * hw + 1))
    base = np.zeros((n, len(TRACKS)))
    for j, track in enumerate(TRACKS):
        c = CELLS.index(track.cell_type)
        if track.assay in ("DNASE", "ATAC"):
            base[:, j] = (CONFIG.dnase_background + CONFIG.dnase_scale * access[c]) * not_n
        elif track.assay == "CHIP":
            k = TFS.index(track.target)
            gain = 1.0 if k == ins else (ACTIVITY[c, k] if perturb == "signed_chip_gain" else max(ACTIVITY[c, k], 0.0))
            base[:, j] = (CONFIG.chip_background + CONFIG.chip_scale * gain * smoothed[k]) * not_n
        else:
            share = 1.0 if track.strand == "." else 0.5
            base[:, j] = CONFIG.cage_background * share * not_n
            for g, t in enumerate(GENES.tss.tolist()):
                on_strand = track.strand == "." or GENES.strand[g] == (1 if track.strand == "+" else -1)
                if on_strand or perturb == "cage_on_both_strands":
                    base[t + offsets, j] += cage[g, c] * peak
    n_bins = -(-n // BIN)
    tracks = np.array([base[b * BIN : (b + 1) * BIN].sum(axis=0) for b in range(n_bins)])
    insulation = -np.log(passes)
    fields = (occ, enhancer, access, smoothed, insulation, not_n.astype(bool))
    return Hand(*fields, promoter, total, distal, cage, base, tracks)


# ---------------------------------------------------------------------- comparison
@dataclass
class World:
    codes: np.ndarray
    oracle: Oracle
    got: dict[str, np.ndarray]
    hand: Hand


def oracle_quantities(oracle: Oracle, codes: np.ndarray) -> dict[str, np.ndarray]:
    result = oracle.evaluate(codes, GENES)
    assert oracle.chip_targets == [0, 1, 2]  # rows of fields.chip = all motifs, in order
    return {
        "occupancy": oracle.occupancy(codes),
        "enhancer": result.fields.enhancer,
        "access": result.fields.access,
        "smoothed": result.fields.chip,
        "insulation": result.fields.insulation,
        "not_n": result.fields.not_n,
        "promoter": result.promoter,
        "enhancer_input": result.enhancer_input,
        "distal_input": result.distal_input,
        "cage": result.cage,
        "base": result.base_tracks(0, LENGTH),
        "tracks": result.tracks(BIN),
    }


@pytest.fixture(scope="module")
def world(thresholds) -> World:
    codes = build_sequence()
    oracle = Oracle(PARAMS)
    return World(codes, oracle, oracle_quantities(oracle, codes), hand_model(codes, thresholds))


def mismatches(got: dict[str, np.ndarray], hand: Hand) -> list[str]:
    """Names of the quantities where the oracle and the hand formulas disagree."""
    bad = []
    for name, value in got.items():
        mine = getattr(hand, name)
        if value.shape != mine.shape or not np.allclose(value, mine, rtol=RTOL, atol=ATOL):
            bad.append(name)
    return bad


def test_thresholds_follow_the_documented_rule(world, thresholds):
    np.testing.assert_array_equal(world.oracle.thresholds, thresholds)
    best = [log_odds(m).max(axis=1).sum() for m in PARAMS.motifs]
    assert thresholds[2] == best[2] - SCORE_UNITS  # insulator: set by max_margin_bits
    assert thresholds[0] < best[0] - SCORE_UNITS  # activators: set by the p-value


def test_the_example_exercises_every_term(world):
    hand = world.hand
    alpha, beta = CELLS.index("alpha"), CELLS.index("beta")
    # consensus insulator site bound, between TSS1 and the enhancer at 7.3 kb
    assert hand.occupancy[2, CTCF_SITE + 4] > 0.8
    # the ramp enhancer (~450 bp away) is active in alpha only (ACT1 represses in beta)
    ramp_zone = slice(TSS1 + CONFIG.contact_min, TSS1 + CONFIG.contact_min + CONFIG.contact_ramp)
    assert hand.enhancer[alpha, ramp_zone].max() > 0.3 and hand.enhancer[beta, ramp_zone].max() == 0.0
    # an active element beyond max_distance of TSS1
    assert hand.enhancer[:, : TSS1 - CONFIG.max_distance].max() > 0.3
    # both promoters active in both cell types, distal input present
    assert (hand.promoter > 0.1).all() and (hand.distal_input > 0).all()
    assert not hand.not_n[GAP[0] : GAP[1]].any()


def test_oracle_matches_the_documented_formulas(world):
    assert mismatches(world.got, world.hand) == []


def test_insulator_between_enhancer_and_gene_blocks_its_contact(world):
    """Removing the enhancer at 7.3 kb costs g1 (across the CTCF-like site) prod (1 - block * O_ins)
    over the site times what it costs without the site; g2 (not across it) the same either way."""
    oracle, codes = world.oracle, world.codes
    site = CTCF_SITE + 4  # motif centre
    free_codes = codes.copy()
    free_codes[CTCF_SITE : CTCF_SITE + 9] = encode("ATATATATA")
    with_site, without = oracle.occupancy(codes)[2], oracle.occupancy(free_codes)[2]
    assert with_site[site] > 0.8 and without[site] == 0.0
    changed = np.flatnonzero(with_site != without)
    assert ((changed >= CTCF_SITE) & (changed < CTCF_SITE + 9)).all()  # nothing else changed
    passes = np.prod((1 - CONFIG.block * with_site[changed]) / (1 - CONFIG.block * without[changed]))
    assert passes == pytest.approx(1 - CONFIG.block * with_site[site], rel=1e-3)  # the site, almost only
    enhancer = (7_290, 7_360)
    blocked = oracle.evaluate(codes, GENES).element_effect(*enhancer).cage_delta  # (G, C)
    free = oracle.evaluate(free_codes, GENES).element_effect(*enhancer).cage_delta
    assert (blocked < 0).all()
    np.testing.assert_allclose(blocked[0] / free[0], passes, rtol=1e-5)
    np.testing.assert_allclose(blocked[1], free[1], rtol=1e-5)


PERTURBATIONS = {
    "one_strand": "occupancy",
    "centre_offset": "occupancy",
    "theta_plus_1_bit": "occupancy",
    "box_w_plus_1": "enhancer",
    "insulator_drives": "enhancer",
    "no_hill_offset": "enhancer",
    "dnase_without_insulator": "access",
    "no_ramp": "enhancer_input",
    "alpha_plus": "enhancer_input",
    "no_max_distance": "enhancer_input",
    "no_insulation": "enhancer_input",
    "insulation_inclusive": "enhancer_input",
    "no_normalisation": "enhancer_input",
    "no_basal": "cage",
    "flat_peak": "base",
    "signed_chip_gain": "base",
    "cage_on_both_strands": "base",
}


@pytest.mark.parametrize("perturb, breaks", sorted(PERTURBATIONS.items()))
def test_a_perturbed_formula_does_not_match(world, thresholds, perturb, breaks):
    wrong = hand_model(world.codes, thresholds, perturb)
    assert breaks in mismatches(world.got, wrong)
