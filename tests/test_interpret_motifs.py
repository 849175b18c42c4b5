"""PWM scan, variant motif calls, truth comparison, TF-MoDISco + TOMTOM on planted toy attributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from enformer_lite.data.sequence import decode, one_hot, reverse_complement
from enformer_lite.errors import InputError
from enformer_lite.interpret.attribution import AttributionRegion, Attributions
from enformer_lite.interpret.config import ExplainConfig, MotifConfig
from enformer_lite.interpret.explain import explain_variants
from enformer_lite.interpret.motifs import benjamini_hochberg, discover, match_patterns, meme_text, seqlet_bed
from enformer_lite.interpret.pwm import PwmSet, best_hit, call_change, variant_changes
from enformer_lite.interpret.truth import explanation_accuracy, motif_evaluation, read_instances, variant_instances
from enformer_lite.simulate.motifs import SCORE_UNITS, default_motifs, sample_site

MOTIFS = {m.name: m for m in default_motifs()}


def _site(name: str, rng: np.random.Generator) -> np.ndarray:
    m = MOTIFS[name]
    lo = m.quantised_log_odds()
    return sample_site(lo, m.probabilities(), int(lo.max(axis=1).sum()) - 2 * SCORE_UNITS, rng)


def test_planted_motif_in_a_toy_sequence_is_found_by_the_pwm_scan() -> None:
    rng = np.random.default_rng(0)
    pwms = PwmSet.build(default_motifs(), 1e-6, 1.0)
    k = [m.name for m in pwms.motifs].index("CTCF")
    seq = rng.integers(0, 4, 300).astype(np.uint8)
    site = _site("CTCF", rng)
    seq[120 : 120 + site.size] = reverse_complement(site)  # on the minus strand
    hit = best_hit(seq, pwms.log_odds[k])
    assert (hit.start, hit.strand) == (120, -1)
    expected = MOTIFS["CTCF"].quantised_log_odds()[np.arange(site.size), site].sum()  # score by hand, + strand of the site
    assert hit.score == expected and hit.score >= pwms.thresholds[k]
    # a SNP at the site's most informative base disrupts CTCF
    lo = MOTIFS["CTCF"].quantised_log_odds()
    j = int(np.argmax(lo.max(axis=1) - lo.min(axis=1)))
    pos = 120 + site.size - 1 - j  # that base on the forward strand
    ref = decode(seq[pos : pos + 1])
    alt_code = 3 - int(np.argmin(lo[j]))  # complement of the worst base at j
    flank = pwms.max_length - 1
    changes = variant_changes(pwms, seq[pos - flank : pos], ref, decode([alt_code]), seq[pos + 1 : pos + 1 + flank])
    effect, change = call_change(changes, 1.0)
    assert effect == "disrupted" and change.motif.name == "CTCF"
    assert change.delta_bits == pytest.approx((lo[j].min() - lo[j, site[j]]) / SCORE_UNITS)


def test_explain_and_accuracy_against_instances() -> None:
    rng = np.random.default_rng(1)
    chrom = rng.integers(0, 4, 2000).astype(np.uint8)
    site = _site("GATA1", rng)
    chrom[500 : 500 + site.size] = site
    lo = MOTIFS["GATA1"].quantised_log_odds()
    j = int(np.argmax(lo.max(axis=1) - lo.min(axis=1)))
    worst = int(np.argmin(lo[j]))

    def fetch(c: str, s: int, e: int) -> np.ndarray:
        out = np.full(e - s, 4, np.uint8)
        lo_, hi = max(s, 0), min(e, chrom.size)
        out[lo_ - s : hi - s] = chrom[lo_:hi]
        return out

    scored = pd.DataFrame({"chrom": ["c1", "c1"], "pos": [501 + j, 1500], "id": ["v1", "v2"],
                           "ref": [decode(chrom[500 + j : 501 + j]), decode(chrom[1499:1500])],
                           "alt": [decode([worst]), decode([(int(chrom[1499]) + 1) % 4])], "top_genes": ["g:1", "."]})
    instances = pd.DataFrame({"motif": ["GATA1"], "chrom": ["c1"], "start": [500], "end": [500 + site.size],
                              "strand": ["+"], "element": ["e1"]})
    elements = pd.DataFrame({"chrom": ["c1"], "start": [450], "end": [600], "element": ["e1"]})
    pwms = PwmSet.build(default_motifs(), 1e-6, 1.0)
    table = explain_variants(scored, fetch, pwms, ExplainConfig(), elements=elements, instances=instances)
    assert list(table["motif_effect"][:1]) == ["disrupted"] and table["motif"][0] == "GATA1"
    assert list(table["element"]) == ["e1", "."] and list(table["true_instance"]) == ["GATA1", "."]
    acc = dict(zip(*explanation_accuracy(table).T.values))
    assert acc["disrupted_call_names_the_instance_tf"] == 1.0 and acc["in_planted_instance"] == 1


def test_instances_from_elements_tsv_and_bad_sites(tmp_path) -> None:
    path = tmp_path / "elements.tsv"
    path.write_text("element\tchrom\tstart\tend\tkind\tprogram\tplanted_for\tsites\n"
                    "E1\tchr1\t100\t400\tenhancer\tx\tG1\tFOS::JUN:120:+;GATA1:200:-\nE2\tchr1\t900\t950\tdecoy\t\t\t\n")
    inst = read_instances(path, default_motifs())
    assert inst.values.tolist() == [["FOS::JUN", "chr1", 120, 120 + MOTIFS["FOS::JUN"].length, "+", "E1"],
                                    ["GATA1", "chr1", 200, 200 + MOTIFS["GATA1"].length, "-", "E1"]]
    variants = pd.DataFrame({"chrom": ["chr1", "chr1"], "pos": [121, 50], "ref": ["A", "C"]})
    assert variant_instances(variants, inst) == ["FOS::JUN", "."]
    path.write_text("element\tchrom\tsites\nE1\tchr1\tNOPE:1:+\n")
    with pytest.raises(InputError, match=r"elements.tsv:2: element E1: bad site 'NOPE:1:\+'"):
        read_instances(path, default_motifs())


def test_motif_evaluation_counts_recall_precision_and_overlap() -> None:
    matches = pd.DataFrame({"pattern": ["p0", "p0", "p1"], "target_name": ["GATA1", "SPI1", "CTCF"], "q_value": [0.001, 0.5, 0.2],
                            "rank": [1, 2, 1]})
    seqlets = pd.DataFrame({"chrom": ["c", "c"], "start": [100, 300], "end": [120, 320], "name": ["p0", "p1"]})
    instances = pd.DataFrame({"motif": ["GATA1", "SPI1"], "chrom": ["c", "c"], "start": [105, 700], "end": [115, 710],
                              "strand": "+", "element": "e"})
    scanned = pd.DataFrame({"chrom": ["c"], "start": [0], "end": [400]})
    metrics, per = motif_evaluation(matches, seqlets, instances, scanned, 0.05)
    m = dict(zip(metrics["metric"], metrics["value"]))
    assert (m["planted_motif_types"], m["recovered_motif_types"], m["patterns"], m["spurious_patterns"]) == (2, 1, 2, 1)
    assert m["seqlets_in_planted_instances"] == 0.5 and m["instances_in_scanned_sequences"] == 1
    assert m["instances_hit_by_a_seqlet"] == 1.0
    assert per.set_index("motif").loc["GATA1", "recovered"] and not per.set_index("motif").loc["SPI1", "recovered"]


def test_benjamini_hochberg_matches_scipy() -> None:
    from scipy.stats import false_discovery_control

    p = np.random.default_rng(3).uniform(size=50) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), false_discovery_control(p))


def test_modisco_and_tomtom_recover_planted_motifs() -> None:
    """Toy attributions: each sequence carries one GATA1 or CTCF site whose bases carry PWM-shaped
    hypothetical contributions; TF-MoDISco finds them and TOMTOM names them."""
    rng = np.random.default_rng(0)
    n, length = 160, 200
    codes = rng.integers(0, 4, (n, length)).astype(np.uint8)
    hyp = rng.normal(scale=0.02, size=(n, length, 4))
    starts = []
    for i in range(n):
        m = MOTIFS[("GATA1", "CTCF")[i % 2]]
        site = _site(m.name, rng)
        start = int(rng.integers(20, length - 40))
        codes[i, start : start + site.size] = site
        hyp[i, start : start + site.size] += np.log2(m.probabilities() / 0.25)
        starts.append(start)
    attr = Attributions([AttributionRegion(f"s{i}", "element", "chr1", 1000 * i) for i in range(n)], one_hot(codes),
                        hyp.astype(np.float32))
    patterns = discover(attr, MotifConfig())
    assert patterns
    matches = match_patterns(patterns, list(default_motifs()))
    best = matches[(matches["rank"] == 1) & (matches["q_value"] < 0.05)]
    assert {"GATA1", "CTCF"} <= set(best["target_name"])
    bed = seqlet_bed(patterns, attr)
    inside = [(s - 1000 * (s // 1000)) for s in bed["start"]]
    assert len(bed) >= 0.8 * n and all(0 <= x < length for x in inside)
    text = meme_text(patterns)
    assert text.startswith("MEME version 4") and text.count("MOTIF ") == len(patterns)
