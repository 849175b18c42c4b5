"""The world-level motif truth table (``enformer-lite pool-motif-evals``): per-genome eval tables written by
hand, their union worked out by hand; bad inputs; the workflow schedules it when two genomes have truth."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate
from test_pipeline_workflow import ROOT, dry_run, job_counts

from enformer_lite.cli import main
from enformer_lite.errors import InputError
from enformer_lite.interpret.truth import pool_motif_evaluations, read_motif_eval
from enformer_lite.pipeline import interpret as pi

# human plants CTCF, SP1, HNF4A, GATA1 and recovers CTCF, SP1 (3 patterns, 1 spurious);
# mouse plants CTCF, SP1, NEUROD1, REST and recovers SP1, NEUROD1 (4 patterns, 2 spurious).
HUMAN_EVAL = """metric\tvalue
planted_motif_types\t4
recovered_motif_types\t2
recall\t0.5
patterns\t3
spurious_patterns\t1
precision\t0.666667
seqlets\t40
seqlets_in_planted_instances\t0.8
instances_in_scanned_sequences\t30
instances_hit_by_a_seqlet\t0.5
"""
HUMAN_MOTIFS = """motif\tinstances\tinstances_scanned\trecovered\tbest_q\tpatterns
CTCF\t10\t4\tTrue\t0.001\tpattern_0
GATA1\t6\t2\tFalse\t0.2\t
HNF4A\t5\t1\tFalse\tNA\t
SP1\t8\t3\tTrue\t0.01\tpattern_1
"""
MOUSE_EVAL = """metric\tvalue
planted_motif_types\t4
recovered_motif_types\t2
recall\t0.5
patterns\t4
spurious_patterns\t2
precision\t0.5
seqlets\t12
seqlets_in_planted_instances\tNA
instances_in_scanned_sequences\t9
instances_hit_by_a_seqlet\tNA
"""
MOUSE_MOTIFS = """motif\tinstances\tinstances_scanned\trecovered\tbest_q\tpatterns
CTCF\t7\t2\tFalse\t0.3\t
NEUROD1\t9\t5\tTrue\t0.004\tpattern_2
REST\t3\t0\tFalse\tNA\t
SP1\t4\t1\tTrue\t0.02\tpattern_0
"""


def _write(root: Path, genome: str, eval_text: str, motifs_text: str) -> Path:
    folder = root / genome / "motifs"
    folder.mkdir(parents=True)
    (folder / "eval.tsv").write_text(eval_text)
    (folder / "eval_motifs.tsv").write_text(motifs_text)
    return folder


def test_pooled_table_is_the_union_over_genomes(tmp_path: Path) -> None:
    human = _write(tmp_path, "human", HUMAN_EVAL, HUMAN_MOTIFS)
    mouse = _write(tmp_path, "mouse", MOUSE_EVAL, MOUSE_MOTIFS)
    out, out_motifs = tmp_path / "motifs_eval.tsv", tmp_path / "motifs_eval_motifs.tsv"
    code = main(["pool-motif-evals", "--eval", f"human={human}", "--eval", f"mouse={mouse}", "--out", str(out),
                 "--out-motifs", str(out_motifs)])
    assert code == 0
    metrics = pd.read_csv(out, sep="\t").set_index("metric")
    # by hand: planted {CTCF, GATA1, HNF4A, NEUROD1, REST, SP1} = 6, recovered {CTCF, NEUROD1, SP1} = 3,
    # patterns 3 + 4 = 7, spurious 1 + 2 = 3, precision (7 - 3) / 7
    assert list(metrics.columns) == ["value", "human", "mouse"]
    assert metrics["value"].to_dict() == pytest.approx({
        "planted_motif_types": 6, "recovered_motif_types": 3, "recall": 0.5, "patterns": 7, "spurious_patterns": 3,
        "precision": 4 / 7}, abs=1e-6)
    assert metrics.loc["recall", "human"] == 0.5 and metrics.loc["spurious_patterns", "mouse"] == 2
    per_motif = pd.read_csv(out_motifs, sep="\t", keep_default_na=False)
    assert per_motif.drop(columns="best_q").values.tolist() == [
        ["CTCF", "human,mouse", "human", True, 17, 6],
        ["GATA1", "human", ".", False, 6, 2],
        ["HNF4A", "human", ".", False, 5, 1],
        ["NEUROD1", "mouse", "mouse", True, 9, 5],
        ["REST", "mouse", ".", False, 3, 0],
        ["SP1", "human,mouse", "human,mouse", True, 12, 4],
    ]
    assert per_motif["best_q"].tolist() == ["0.001", "0.2", "NA", "0.004", "NA", "0.01"]


def test_one_genome_pools_to_its_own_table(tmp_path: Path) -> None:
    metrics, per_motif = pool_motif_evaluations({"human": read_motif_eval(_write(tmp_path, "human", HUMAN_EVAL,
                                                                                  HUMAN_MOTIFS))})
    assert metrics["value"].tolist() == pytest.approx([4, 2, 0.5, 3, 1, 2 / 3])
    assert per_motif["recovered_in"].tolist() == ["human", ".", ".", "human"]
    assert np.isnan(per_motif["best_q"].iloc[2])


def test_reads_what_enformer_lite_motifs_writes(tmp_path: Path) -> None:
    """The eval files as motif_evaluation + write_tsv make them (bools, NA) pool as the hand-written ones do."""
    from enformer_lite.interpret.steps import write_tsv
    from enformer_lite.interpret.truth import INSTANCE_COLUMNS, motif_evaluation

    empty = pd.DataFrame(columns=["chrom", "start", "end"])
    dirs = {}
    for genome, planted, hits in (("human", ["CTCF", "SP1"], [("p0", "CTCF", 0.01), ("p1", "REST", 0.001)]),
                                  ("mouse", ["REST", "SP1"], [("p0", "REST", 0.2)])):
        instances = pd.DataFrame([(tf, "chr1", 10 * i, 10 * i + 5, "+", f"e{i}") for i, tf in enumerate(planted)],
                                 columns=INSTANCE_COLUMNS)
        matches = pd.DataFrame(hits, columns=["pattern", "target_name", "q_value"])
        metrics, per_motif = motif_evaluation(matches, empty, instances, empty, 0.05)
        dirs[genome] = tmp_path / genome
        dirs[genome].mkdir()
        write_tsv(dirs[genome] / "eval.tsv", metrics)
        write_tsv(dirs[genome] / "eval_motifs.tsv", per_motif)
    metrics, per_motif = pool_motif_evaluations({g: read_motif_eval(d) for g, d in dirs.items()})
    # human: CTCF recovered, p1 matches REST (not planted there) → spurious; mouse: REST at q 0.2, not recovered
    assert dict(zip(metrics["metric"], metrics["value"])) == pytest.approx({
        "planted_motif_types": 3, "recovered_motif_types": 1, "recall": 1 / 3, "patterns": 3, "spurious_patterns": 2,
        "precision": 1 / 3})
    assert per_motif[["motif", "planted_in", "recovered_in"]].values.tolist() == [
        ["CTCF", "human", "human"], ["REST", "mouse", "."], ["SP1", "human,mouse", "."]]
    # human's REST match (q 0.001) is spurious there and does not make REST recovered nor its best q
    assert per_motif["best_q"].tolist()[:2] == pytest.approx([0.01, 0.2])


@pytest.mark.parametrize(("file", "text", "message"), [
    ("eval_motifs.tsv", HUMAN_MOTIFS.replace("\trecovered", "\tfound"), r"eval_motifs\.tsv: missing column\(s\) recovered"),
    ("eval.tsv", HUMAN_EVAL.replace("spurious_patterns\t1\n", ""), r"eval\.tsv: missing metric\(s\) spurious_patterns"),
    ("eval.tsv", HUMAN_EVAL.replace("patterns\t3", "patterns\tthree"), r"eval\.tsv:5: metric patterns: value 'three'"),
    ("eval_motifs.tsv", HUMAN_MOTIFS.replace("True\t0.01", "yes\t0.01"), r"eval_motifs\.tsv:5: motif SP1: recovered 'yes'"),
    ("eval_motifs.tsv", HUMAN_MOTIFS.replace("10\t4", "NA\t4"), r"eval_motifs\.tsv:2: motif CTCF: instances 'NA'"),
])
def test_bad_eval_table_names_the_file(tmp_path: Path, file: str, text: str, message: str) -> None:
    folder = _write(tmp_path, "human", HUMAN_EVAL, HUMAN_MOTIFS)
    (folder / file).write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_motif_eval(folder)
    assert str(folder / file) in str(err.value)


def test_cli_reports_a_missing_eval_and_bad_flags(tmp_path: Path, capsys) -> None:
    human = _write(tmp_path, "human", HUMAN_EVAL, HUMAN_MOTIFS)
    (human / "eval.tsv").unlink()
    out = ["--out", str(tmp_path / "a.tsv"), "--out-motifs", str(tmp_path / "b.tsv")]
    assert main(["pool-motif-evals", "--eval", f"human={human}", *out]) == 2
    assert f"{human / 'eval.tsv'}: motif evaluation not found" in capsys.readouterr().err
    assert main(["pool-motif-evals", "--eval", str(human), *out]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err
    assert main(["pool-motif-evals", "--eval", f"h={human}", "--eval", f"h={human}", *out]) == 2
    assert "'h' given twice" in capsys.readouterr().err
    assert not (tmp_path / "a.tsv").exists()


def _ci_config() -> dict:
    config = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"), set_default=True)
    return config


def test_workflow_pools_only_with_two_truth_genomes() -> None:
    config = _ci_config()
    assert pi.truth_genomes(config) == ["human", "mouse"] and pi.ism_genomes(config) == ["human"]
    assert pi.pooled_motif_dirs(config) == ["results/interpret/human/motifs", "results/interpret/mouse/motifs"]
    assert pi.pooled_eval_flags(config) == ("--eval human=results/interpret/human/motifs "
                                            "--eval mouse=results/interpret/mouse/motifs")
    targets = pi.interpret_targets(config)
    assert {pi.POOLED_EVAL, pi.POOLED_EVAL_MOTIFS, "results/interpret/mouse/motifs"} <= set(targets)
    assert "results/interpret/mouse/ism.h5" not in targets and "results/interpret/human/ism.h5" in targets
    one = copy.deepcopy(config)
    del one["interpret"]["truth"]["mouse"]
    assert pi.pooled_motif_dirs(one) == [] and pi.pooled_eval_flags(one) == ""
    assert pi.POOLED_EVAL not in pi.interpret_targets(one)
    every = copy.deepcopy(config)
    every["interpret"]["ism_genomes"] = []
    assert pi.ism_genomes(every) == ["human", "mouse"]


def test_ci_dry_run_schedules_the_pooled_table(tmp_path: Path) -> None:
    result = dry_run(ROOT / "Snakefile", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert counts["interpret_motifs_eval"] == 1 and counts["interpret_motifs"] == 2 and counts["interpret_ism"] == 1
    assert ("enformer-lite pool-motif-evals --eval human=results/interpret/human/motifs "
            "--eval mouse=results/interpret/mouse/motifs --out results/interpret/motifs_eval.tsv") in result.stdout
