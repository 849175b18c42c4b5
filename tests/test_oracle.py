"""The oracle: exact local updates, insulation, N and soft-masking, motif scores."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from enformer_lite.data.sequence import decode, encode, reverse_complement
from enformer_lite.errors import InputError
from enformer_lite.simulate.genomes import HUMAN
from enformer_lite.simulate.motifs import SCORE_UNITS, default_motifs, parse_jaspar, score_tail
from enformer_lite.simulate.oracle import GeneSet, Oracle, OracleResult, expected_tracks

PARAMS = HUMAN.oracle_params()
CELLS = HUMAN.cell_types
LENGTH = 420_000


def consensus(tf: str) -> np.ndarray:
    motif = next(m for m in default_motifs() if m.name == tf)
    return motif.counts.argmax(axis=1).astype(np.uint8)


def plant(codes: np.ndarray, start: int, tfs: list[str], spacing: int = 40) -> None:
    for i, tf in enumerate(tfs):
        site = consensus(tf)
        codes[start + i * spacing : start + i * spacing + site.shape[0]] = site if i % 2 else reverse_complement(site)


def make_sequence(seed: int = 0) -> tuple[np.ndarray, GeneSet, dict[str, int]]:
    """~420 kb of random DNA with two promoters, enhancers at 5-90 kb and a CTCF site."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(4, size=LENGTH, p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    places = {
        "tss1": 200_000,
        "tss2": 260_000,
        "enh_prox": 205_000,
        "enh_distal": 130_000,
        "enh_liver": 290_000,
        "ctcf": 240_000,
    }
    plant(codes, places["tss1"] - 140, ["SP1", "NFYA", "SP1"])
    plant(codes, places["tss2"] - 140, ["SP1", "NFYA", "ELK1"])
    plant(codes, places["enh_prox"], ["GATA1", "GATA1", "FOS::JUN"])
    plant(codes, places["enh_distal"], ["SPI1", "CEBPB", "FOS::JUN"])
    plant(codes, places["enh_liver"], ["HNF4A", "FOXA2", "HNF1A"])
    plant(codes, places["ctcf"], ["CTCF"])
    codes[:3_000] = 4  # a gap at the start
    genes = GeneSet(("g1", "g2"), np.array([places["tss1"], places["tss2"]]), np.array([1, -1], dtype=np.int8))
    return codes, genes, places


@dataclass
class World:
    oracle: Oracle
    codes: np.ndarray
    genes: GeneSet
    places: dict[str, int]
    result: OracleResult


@pytest.fixture(scope="module")
def world() -> World:
    codes, genes, places = make_sequence()
    oracle = Oracle(PARAMS)
    return World(oracle, codes, genes, places, oracle.evaluate(codes, genes))


def edited(codes: np.ndarray, pos: int, ref: str, alt: str) -> np.ndarray:
    return np.concatenate([codes[:pos], encode(alt), codes[pos + len(ref) :]])


def shifted_genes(genes: GeneSet, pos: int, ref: str, alt: str) -> GeneSet:
    delta = len(alt) - len(ref)
    tss = np.where(genes.tss >= pos + len(ref), genes.tss + delta, genes.tss)
    return GeneSet(genes.ids, tss, genes.strand)


@pytest.mark.parametrize(
    "where, offset, ref_len, alt",
    [
        ("enh_prox", 3, 1, "snp"),  # inside a GATA1 site
        ("enh_distal", 2, 1, "snp"),
        ("tss1", -130, 1, "snp"),  # promoter SP1 site
        ("ctcf", 5, 1, "snp"),
        ("enh_prox", 2, 6, ""),  # deletion (alt = first REF base)
        ("enh_distal", 1, 1, "GATTACAGATA"),  # insertion
        ("ctcf", 0, 12, ""),  # deletion of most of the CTCF site
        ("tss1", -20, 30, ""),  # deletion that removes the TSS of g1
        ("start", 3_010, 1, "snp"),  # near the gap at the sequence start
        ("end", LENGTH - 5, 2, "TTTTT"),  # near the sequence end
    ],
)
def test_variant_fast_path_equals_full_recompute(world, where, offset, ref_len, alt):
    oracle, codes, genes, places, result = world.oracle, world.codes, world.genes, world.places, world.result
    pos = {"start": 0, "end": 0}.get(where, places.get(where, 0)) + offset
    ref = decode(codes[pos : pos + ref_len])
    if alt == "snp":
        alt = "ACGT"[(codes[pos] + 1) % 4]
    elif alt == "":
        alt = ref[0]
    else:
        alt = ref[0] + alt
    effect = result.variant_effect(pos, ref, alt)

    new_codes = edited(codes, pos, ref, alt)
    new_genes = shifted_genes(genes, pos, ref, alt)
    if where == "tss1" and len(alt) < len(ref):
        # the TSS was deleted: the oracle keeps it at the last ALT base
        new_genes = GeneSet(genes.ids, np.array([pos, new_genes.tss[1]]), genes.strand)
    full = oracle.evaluate(new_codes, new_genes)
    fast_cage = result.cage.copy()
    fast_cage[effect.gene_index] = effect.cage_alt
    np.testing.assert_allclose(fast_cage, full.cage, rtol=1e-6, atol=1e-9)

    full_tracks = full.tracks(128)
    window = full_tracks[effect.first_bin : effect.first_bin + effect.window_alt.shape[0]]
    np.testing.assert_allclose(effect.window_alt, window, rtol=1e-6, atol=1e-9)
    ref_tracks = result.tracks(128)
    np.testing.assert_allclose(
        effect.window_ref, ref_tracks[effect.first_bin : effect.first_bin + effect.window_ref.shape[0]]
    )


def test_variants_in_elements_change_expression(world):
    codes, places, result = world.codes, world.places, world.result
    pos = places["enh_prox"] + 3  # GATA1 site of the erythroid enhancer 5 kb from g1
    alt = "ACGT"[(codes[pos] + 2) % 4]
    effect = result.variant_effect(pos, decode(codes[pos : pos + 1]), alt)
    g1 = list(effect.gene_index).index(0)
    erythroid = CELLS.index("erythroid")
    assert effect.cage_delta[g1, erythroid] < -1.0
    assert effect.bin_alt[0] < effect.bin_ref[0]  # DNase in the erythroid cell type drops


def test_background_snp_far_from_genes_is_exactly_neutral(world):
    codes, result = world.codes, world.result
    pos = 20_000  # > 150 kb from both TSSs
    effect = result.variant_effect(pos, decode(codes[pos : pos + 1]), "ACGT"[(codes[pos] + 1) % 4])
    assert effect.gene_index.size == 0


def test_element_removal_equals_recompute_with_n(world):
    oracle, codes, genes, places, result = world.oracle, world.codes, world.genes, world.places, world.result
    start, end = places["enh_distal"] - 50, places["enh_distal"] + 200
    effect = result.element_effect(start, end)
    masked = codes.copy()
    masked[start:end] = 4
    full = oracle.evaluate(masked, genes)
    np.testing.assert_allclose(effect.cage_alt, full.cage[effect.gene_index], rtol=1e-6)
    myeloid = CELLS.index("myeloid")
    g1 = list(effect.gene_index).index(0)
    assert effect.cage_delta[g1, myeloid] < 0  # the myeloid enhancer 70 kb away activates g1


def test_soft_masking_does_not_change_tracks(world):
    codes, genes, result = world.codes, world.genes, world.result
    text = list(decode(codes))
    rng = np.random.default_rng(3)
    for start in rng.integers(0, LENGTH - 5_000, 60):
        text[start : start + 5_000] = [c.lower() for c in text[start : start + 5_000]]
    soft = "".join(text)
    assert soft != soft.upper()
    np.testing.assert_array_equal(expected_tracks(soft, genes, PARAMS), result.tracks(128))


def test_n_contributes_nothing():
    oracle = Oracle(PARAMS)
    all_n = oracle.evaluate("N" * 5_000)
    assert not all_n.tracks(128).any()
    # a motif interrupted by N is not bound, so an element of such sites is silent
    codes = np.full(3_000, 0, np.uint8)
    for i, tf in enumerate(["GATA1", "GATA1", "FOS::JUN"]):
        site = consensus(tf)
        codes[1_000 + 40 * i : 1_000 + 40 * i + site.shape[0]] = site
    intact = oracle.evaluate(codes)
    broken = codes.copy()
    for i in range(3):
        broken[1_000 + 40 * i + 4] = 4
    silenced = oracle.evaluate(broken)
    erythroid = CELLS.index("erythroid")
    assert intact.fields.enhancer[erythroid, 1_050] > 0.3
    assert silenced.fields.enhancer[:, 1_050].max() == 0.0


def test_cell_type_specific_activity(world):
    places, result = world.places, world.result
    e = result.fields.enhancer
    liver = places["enh_liver"] + 40
    erythroid = places["enh_prox"] + 40
    assert e[CELLS.index("hepatocyte"), liver] > 0.3 and e[CELLS.index("erythroid"), liver] == 0.0
    assert e[CELLS.index("erythroid"), erythroid] > 0.3 and e[CELLS.index("hepatocyte"), erythroid] == 0.0


def test_ctcf_between_enhancer_and_gene_reduces_its_contact():
    rng = np.random.default_rng(5)
    codes = rng.choice(4, size=200_000, p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    tss = 50_000
    plant(codes, tss - 140, ["SP1", "NFYA", "SP1"])
    plant(codes, tss + 40_000, ["GATA1", "GATA1", "FOS::JUN"])
    genes = GeneSet(("g",), np.array([tss]), np.array([1], dtype=np.int8))
    oracle = Oracle(PARAMS)
    erythroid = CELLS.index("erythroid")

    def enhancer_input(seq: np.ndarray) -> float:
        return float(oracle.evaluate(seq, genes).enhancer_input[0, erythroid])

    base = enhancer_input(codes)
    between = codes.copy()
    plant(between, tss + 20_000, ["CTCF"])
    beyond = codes.copy()
    plant(beyond, tss + 60_000, ["CTCF"])
    blocked = enhancer_input(between)
    # a bound site passes 1 - block * occupancy of the contact (occupancy of a consensus site ~ 1)
    assert blocked / base == pytest.approx(1 - PARAMS.config.block, abs=0.03)
    # beyond the enhancer it only insulates the weak background activity farther out
    assert enhancer_input(beyond) / base > 0.98


def test_contact_decays_slowly_enough_for_distal_enhancers():
    oracle = Oracle(PARAMS)
    contact = oracle.contact
    assert contact[400] == 0.0  # the promoter's own neighbourhood acts through P
    assert contact[5_000] > contact[50_000] > contact[100_000] > 0
    assert contact[50_000] / contact[5_000] > 0.2
    assert contact[PARAMS.config.max_distance] > 0 and contact.shape[0] == PARAMS.config.max_distance + 1


def test_cage_track_carries_each_gene_once(world):
    """Summed over bins, a CAGE track holds every gene's CAGE on its strand plus background."""
    codes, genes, result = world.codes, world.genes, world.result
    tracks = result.tracks(128)
    cfg = PARAMS.config
    not_n = int((codes != 4).sum())
    for j, spec in enumerate(PARAMS.tracks):
        if spec.assay != "CAGE":
            continue
        c = CELLS.index(spec.cell_type)
        strand = {"+": 1, "-": -1, ".": 0}[spec.strand]
        on = genes.strand == strand if strand else np.ones(len(genes), bool)
        share = 0.5 if strand else 1.0
        expected = result.cage[on, c].sum() + cfg.cage_background * share * not_n
        assert tracks[:, j].sum() == pytest.approx(expected, rel=1e-9)
    assert tracks.shape == (-(-LENGTH // 128), len(PARAMS.tracks))


def test_scores_equal_direct_log_odds_sum():
    """Convolution and table paths give the textbook log-odds score of every window."""
    oracle = Oracle(PARAMS)
    rng = np.random.default_rng(11)
    cfg = PARAMS.config
    for n in (3_000, 40_000):  # table path and convolution path
        codes = rng.integers(0, 4, n).astype(np.uint8)
        codes[100:110] = 4
        padded = np.concatenate([codes, np.full(oracle.max_len, 4, np.uint8)])
        scores = oracle.scores(padded)
        for k, motif in enumerate(PARAMS.motifs):
            freqs = motif.counts / motif.counts.sum(axis=1, keepdims=True)
            bg = np.array(cfg.background)
            lo = np.rint(np.log2((freqs + cfg.pseudo * bg) / (1 + cfg.pseudo) / bg) * SCORE_UNITS)
            m = motif.length
            for q in (0, 95, 1_234, n - m):
                window = padded[q : q + m]
                fwd = sum(lo[j, b] for j, b in enumerate(window) if b < 4)
                rc = reverse_complement(window)
                rev = sum(lo[j, b] for j, b in enumerate(rc) if b < 4)
                assert scores[2 * k, q] == fwd and scores[2 * k + 1, q] == rev


def test_score_tail_matches_enumeration():
    motif = default_motifs()[1]  # SP1, 9 bp
    log_odds = motif.quantised_log_odds()[:6]
    bg = np.array([0.295, 0.205, 0.205, 0.295])
    scores, tail = score_tail(log_odds, tuple(bg))
    probs: dict[int, float] = {}
    for word in itertools.product(range(4), repeat=6):
        s = int(sum(log_odds[j, b] for j, b in enumerate(word)))
        probs[s] = probs.get(s, 0.0) + float(np.prod(bg[list(word)]))
    for s, t in zip(scores, tail):
        assert t == pytest.approx(sum(p for v, p in probs.items() if v >= s), rel=1e-9)


def test_shipped_motifs_are_the_jaspar_matrices():
    motifs = {m.matrix_id: m for m in default_motifs()}
    assert len(motifs) == 15
    ctcf = motifs["MA0139.2"]
    assert ctcf.name == "CTCF" and ctcf.length == 15
    np.testing.assert_array_equal(ctcf.counts[0], [281, 49, 449, 134])  # JASPAR 2024, column 1
    assert {m.name for m in motifs.values()} >= {"CTCF", "SP1", "NFYA", "TBP", "GATA1", "SPI1", "HNF4A", "FOS::JUN"}


@pytest.mark.parametrize(
    "text, message",
    [
        (">MA1 X\nA [1 2]\nC [1 2]\nG [1 2]\n", "needs rows A, C, G, T"),
        (">MA1 X\nA [1 2]\nC [1 2]\nG [1 2]\nT [1]\n", "unequal"),
        (">MA1 X\nA [1 x]\nC [1 2]\nG [1 2]\nT [1 2]\n", "row A"),
        ("A [1 2]\n", "cannot parse"),
    ],
)
def test_parse_jaspar_rejects_malformed_records(text, message):
    with pytest.raises(InputError, match=message) as err:
        parse_jaspar(text, source="bad.jaspar")
    assert "bad.jaspar" in str(err.value)


def test_variant_ref_must_match(world):
    codes, result = world.codes, world.result
    wrong = "ACGT"[(codes[1000] + 1) % 4]
    with pytest.raises(ValueError, match="does not match"):
        result.variant_effect(1000, wrong, "A")
