"""The simulator's motifs.tsv agrees with the instances read back from elements.tsv; workflow helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enformer_lite.errors import InputError
from enformer_lite.interpret.config import InterpretConfig
from enformer_lite.interpret.truth import read_instances
from enformer_lite.pipeline import interpret as pi
from enformer_lite.simulate import truth
from enformer_lite.simulate.motifs import default_motifs
from enformer_lite.simulate.planting import ChromosomeLayout, Element, Site


def test_motif_table_matches_instances_parsed_from_elements_tsv(tmp_path) -> None:
    elements = [
        Element("E1", "chr1", 100, 500, "enhancer", "liver", "G1", [Site("HNF4A", 120, 1), Site("FOS::JUN", 300, -1)]),
        Element("E2", "chr1", 900, 960, "insulator", "", "", [Site("CTCF", 910, -1)]),
        Element("E3", "chr1", 1200, 1400, "decoy", "", "", []),
    ]
    layout = ChromosomeLayout("chr1", np.zeros(2000, np.uint8), np.zeros(2000, bool), [], [], elements)
    motifs = default_motifs()
    table = truth.motif_table([layout], motifs)
    lengths = {m.name: m.length for m in motifs}
    assert table.values.tolist() == [
        ["HNF4A", "chr1", 120, 120 + lengths["HNF4A"], "+", "E1"],
        ["FOS::JUN", "chr1", 300, 300 + lengths["FOS::JUN"], "-", "E1"],
        ["CTCF", "chr1", 910, 910 + lengths["CTCF"], "-", "E2"],
    ]
    truth.write_table(tmp_path / "elements.tsv", truth.element_table([layout]))
    truth.write_table(tmp_path / "motifs.tsv", table)
    from_elements = read_instances(tmp_path / "elements.tsv", motifs)
    from_motifs = read_instances(tmp_path / "motifs.tsv", motifs)
    assert from_elements.values.tolist() == from_motifs.values.tolist() == table.values.tolist()
    with pytest.raises(InputError, match="truth table not found"):
        read_instances(tmp_path / "missing.tsv", motifs)


def _config(**interpret) -> dict:
    base = {"enabled": True, "checkpoint": "m.ckpt", "genomes": [], "vcf": "demo", "background_vcf": "", "truth": {},
            "ism": {"top_variants": 2, "batch_size": 8, "flank": 5}, "calibration": {"n_background": 10, "seed": 1},
            "motifs": {"q_threshold": 0.05, "device": "cpu"}, "explain": {}}
    base.update(interpret)
    return {"interpret": base, "variants": {"enabled": True, "vcfs": {"demo": {"genome": "human", "path": "v.vcf.gz"}},
                                            "regions": ["chr3"], "limit": 8},
            "genomes": {"human": {"candidates": "c.bed"}, "mouse": {}}}


def test_workflow_helpers() -> None:
    config = _config(truth={"human": "res/human/truth/elements.tsv"})
    assert pi.interpret_genomes(config) == ["human"]  # mouse has no candidates
    targets = pi.interpret_targets(config)
    assert "results/interpret/human/motifs" in targets and "results/interpret/demo.explain_eval.tsv" in targets
    assert pi.interpret_targets(config, model_available=False) == []
    assert pi.ism_variants(config, "human") == ["results/variants/demo.h5"] and pi.ism_variants(config, "mouse") == []
    assert json.loads(pi.ism_settings(config, "mouse"))["interpret"]["ism"]["top_variants"] == 0
    assert "batch_size" not in json.loads(pi.step_settings(config, "ism"))["interpret"]["ism"]
    declared = ["res/human/truth/enhancer_gene.tsv"]
    assert pi.truth_input(config, "human", declared) == declared  # written by the same simulate job
    assert pi.truth_input(config, "mouse", declared) == []
    assert "10 SNPs" in pi.background_source(config, "demo")
    # calibration: the gather step of the calibrated VCF takes its scored background, no separate outputs
    assert not [x for x in targets if "quantiles" in x or x.endswith(".vcf.gz")]
    assert pi.gather_background(config, "demo") == ["results/interpret/background/demo.h5"]
    assert pi.gather_background(config, "other") == [] and pi.gather_background(_config(enabled=False), "demo") == []
    flags = pi.calibration_flags(config, "demo", pi.gather_background(config, "demo"))
    assert flags.startswith("--background results/interpret/background/demo.h5 --background-source '10 SNPs")
    assert flags.endswith("--quantile-scores SAD") and pi.calibration_flags(config, "demo", []) == ""
    two = _config(calibration={"n_background": 10, "seed": 1, "scores": ["SAD", "MAXD"]})
    assert pi.calibration_flags(two, "demo", ["b.h5"]).endswith("--quantile-scores SAD,MAXD")
    assert pi.interpret_vcf(_config(vcf="")) is None and pi.interpret_targets(_config(enabled=False)) == []
    # the settings a rule passes are accepted by the CLI's config classes
    for step in ("ism", "calibration", "motifs", "explain"):
        InterpretConfig.from_dict(json.loads(pi.step_settings(config, step))["interpret"])


def test_config_rejects_unknown_and_bad_keys() -> None:
    with pytest.raises(InputError, match="interpret.motifs: unknown key"):
        InterpretConfig.from_dict({"motifs": {"nope": 1}})
    with pytest.raises(InputError, match="attribution"):
        InterpretConfig.from_dict({"motifs": {"attribution": "saliency"}})
    with pytest.raises(InputError, match="p_value"):
        InterpretConfig.from_dict({"explain": {"p_value": 2}})
    assert InterpretConfig.from_dict({"enabled": True, "truth": {"human": "x"}}).ism.n_genes == 1
