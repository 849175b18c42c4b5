"""enformer_lite.pipeline: the workflow's logic, tested as plain functions of a validated config
(the rule files only call these; the dry runs in test_pipeline_workflow.py check the wiring)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from enformer_lite.data.regions import Region
from enformer_lite.data.windows import Window, write_bed
from enformer_lite.errors import InputError
from enformer_lite.pipeline import contributions, flags, plots, tracks, variants, windows
from enformer_lite.plots.loci import Locus, write_loci

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def ci_config() -> dict:
    """config/ci.yaml, validated with defaults filled in, as the workflow sees it."""
    config = yaml.safe_load((ROOT / "config" / "ci.yaml").read_text())
    validate(config, str(SCHEMA), set_default=True)
    return copy.deepcopy(config)


# windows ------------------------------------------------------------------------------------------


def test_window_args_and_spec(ci_config: dict) -> None:
    assert windows.window_args(ci_config["windows"]) == (
        "--length 196608 --stride 131072 --bin-size 128 --target-length 896 --max-n-fraction 0.35"
    )
    assert windows.window_spec(ci_config["windows"]).length == 196608


def test_bad_window_geometry_is_a_config_error(ci_config: dict) -> None:
    with pytest.raises(ValueError, match="^bad config: "):
        windows.window_spec({**ci_config["windows"], "length": 1000})


def test_window_chroms_keep_bed_order(tmp_path: Path) -> None:
    bed = tmp_path / "windows.bed"
    rows = [Window("chr2", 0, 10, "valid"), Window("chr1", 0, 10, "train"), Window("chr2", 10, 20, "valid"),
            Window("chrX", 0, 10, "test")]
    with open(bed, "w") as handle:
        write_bed(rows, handle)
    assert windows.window_chroms(bed) == ["chr2", "chr1", "chrX"]


def test_window_chroms_of_a_bad_bed_name_the_line(tmp_path: Path) -> None:
    bed = tmp_path / "windows.bed"
    bed.write_text("chr1\t0\t10\ttrain\nchr1\tzero\t10\ttrain\n")
    with pytest.raises(InputError, match="line 2"):
        windows.window_chroms(bed)


# tracks -------------------------------------------------------------------------------------------


def test_track_files_in_track_order(tmp_path: Path) -> None:
    table = tmp_path / "tracks.tsv"
    table.write_text("index\tid\tfile\tsum_stat\tscale\n0\ta\tb/a.bw \tsum\t1\n1\tb\tb/b.bw\tmean\t2\n")
    assert tracks.track_files(table) == ["b/a.bw", "b/b.bw"]


def test_track_files_of_a_missing_table(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="tracks table not found"):
        tracks.track_files(tmp_path / "none.tsv")


# flags --------------------------------------------------------------------------------------------


def test_settings_json_and_optional_flags(ci_config: dict) -> None:
    settings = json.loads(flags.settings_json(ci_config, "evaluate", "nothing"))
    hardware = json.loads(flags.hardware_json(ci_config, "evaluate", "nothing"))
    evaluate = dict(ci_config["evaluate"])
    evaluate.pop("resources", None)  # read by the workflow only
    # the two halves are disjoint and together give the section back
    assert set(settings["evaluate"]) & set(hardware["evaluate"]) == set()
    assert {**settings["evaluate"], **hardware["evaluate"]} == evaluate
    assert set(hardware["evaluate"]) == {"batch_size", "device", "num_workers"} and settings["nothing"] == {}
    variants = json.loads(flags.settings_json(ci_config, "variants"))["variants"]
    assert "vcfs" not in variants and "batch_size" not in variants and "shifts" in variants
    train = json.loads(flags.hardware_json(ci_config, "train"))["train"]
    assert set(train) == {"trainer", "num_workers", "progress_bar", "checkpoint_every_n_steps"} & set(ci_config["train"])
    assert flags.optional_flag("--genes", "my genes.bed") == "--genes 'my genes.bed'"
    assert flags.optional_flag("--genes", None) == flags.optional_flag("--genes", "") == ""
    assert flags.first_file_flag("--genes", ["g.bed"]) == "--genes g.bed"
    assert flags.first_file_flag("--genes", []) == ""
    assert flags.optional_file({"genes": "g.bed"}, "genes") == ["g.bed"]
    assert flags.optional_file({"genes": ""}, "genes") == flags.optional_file({}, "genes") == []


# contributions ------------------------------------------------------------------------------------


def test_contribution_genomes_and_targets(ci_config: dict) -> None:
    assert contributions.contrib_genomes(ci_config) == ["human", "mouse"]
    assert contributions.contrib_truth_genomes(ci_config) == ["human", "mouse"]
    assert contributions.contrib_chunks(ci_config, "human") == ["results/contributions/human/chunks/0"]
    targets = contributions.contributions_targets(ci_config)
    assert targets[:3] == ["results/contributions/human.enhancer_gene.tsv", "results/contributions/human.bedpe",
                           "results/contributions/human.tracks"]
    assert targets[-1] == "results/contributions/eval.tsv" and len(targets) == 7


def test_contributions_need_genes_candidates_and_the_stage(ci_config: dict) -> None:
    del ci_config["genomes"]["mouse"]["candidates"]
    del ci_config["contributions"]["truth"]["human"]
    assert contributions.contrib_genomes(ci_config) == ["human"]
    assert contributions.contrib_truth_genomes(ci_config) == []
    assert "results/contributions/eval.tsv" not in contributions.contributions_targets(ci_config)
    ci_config["contributions"]["enabled"] = False
    assert contributions.contributions_targets(ci_config) == []


def test_held_out_only_draws_genes_from_test_chromosomes(ci_config: dict) -> None:
    assert ci_config["contributions"]["held_out_only"] is True
    assert contributions.contrib_chroms(ci_config, "human") == ["chr3"]
    settings = json.loads(contributions.contrib_settings(ci_config, "human"))["contributions"]
    assert settings["chroms"] == ["chr3"] and settings["max_genes"] == 2
    ci_config["contributions"]["chroms"] = ["chr1", "chr2"]
    assert contributions.contrib_chroms(ci_config, "human") == ["chr1", "chr2"]
    ci_config["contributions"].update(chroms=[], held_out_only=False)
    assert contributions.contrib_chroms(ci_config, "human") == []


# variants -----------------------------------------------------------------------------------------

TRUTH = "resources/ci/human/truth/variants.tsv"


def test_variant_head_and_settings(ci_config: dict) -> None:
    assert variants.variant_head({"genome": "human"}) == "human"
    assert variants.variant_head({"genome": "human", "head": "mouse"}) == "mouse"
    assert json.loads(variants.variant_settings(ci_config)) == {"variants": ci_config["variants"]}


def test_truth_is_ready_when_it_exists_or_is_declared(tmp_path: Path) -> None:
    existing = tmp_path / "truth.tsv"
    existing.write_text("")
    assert variants.truth_ready(str(existing), declared=[])
    assert variants.truth_ready(TRUTH, declared=[TRUTH])
    assert not variants.truth_ready(TRUTH, declared=[])
    assert not variants.truth_ready("", declared=[""])


def test_variant_targets(ci_config: dict) -> None:
    files = ["results/variants/demo.tsv.gz", "results/variants/demo.vcf.gz", "results/variants/demo.vcf.gz.tbi"]
    assert variants.variant_eval_cases(ci_config, declared=[TRUTH]) == ["demo"]
    assert variants.variant_targets(ci_config, True, declared=[TRUTH]) == [*files, "results/variants/eval.tsv"]
    assert variants.variant_targets(ci_config, True, declared=[]) == files
    assert variants.variant_targets(ci_config, False, declared=[TRUTH]) == []  # no model and no checkpoint
    ci_config["genomes"]["human"]["genes"] = ""
    assert variants.variant_eval_cases(ci_config, declared=[TRUTH]) == []
    ci_config["variants"]["enabled"] = False
    assert variants.variant_targets(ci_config, True, declared=[TRUTH]) == []


# plots --------------------------------------------------------------------------------------------


def test_configured_loci_flags(ci_config: dict) -> None:
    ci_config["plots"]["loci"] = {"human": ["mine=chr1:1,000-5,000", "chr2:1-2"]}
    assert plots.configured_loci_flags(ci_config, "human") == "--region mine=chr1:1,000-5,000 --region chr2:1-2"
    assert plots.configured_loci_flags(ci_config, "mouse") == ""


def test_figure_files_carry_report_labels() -> None:
    assert plots.figure_files("results/plots/x", key="top_", genome="human") == {
        "top_png": ("results/plots/x.png", {"genome": "human", "format": "PNG"}),
        "top_pdf": ("results/plots/x.pdf", {"genome": "human", "format": "PDF"}),
    }


def test_plot_targets_follow_what_the_workflow_makes(ci_config: dict) -> None:
    every = plots.plot_targets(ci_config, lambda path: True)
    assert every == [
        "results/plots/training.png", "results/plots/training.pdf",
        "results/plots/accuracy.png", "results/plots/accuracy.pdf",
        "results/plots/human/tss_scatter.png", "results/plots/human/tss_scatter.pdf",
        "results/plots/mouse/tss_scatter.png", "results/plots/mouse/tss_scatter.pdf",
        "results/plots/variants/demo/strongest.png", "results/plots/variants/demo/strongest.pdf",
        "results/plots/variants/demo/scores.png", "results/plots/variants/demo/scores.pdf",
        "results/plots/contributions/human.png", "results/plots/contributions/human.pdf",
        "results/plots/contributions/mouse.png", "results/plots/contributions/mouse.pdf",
    ]
    assert plots.locus_figures_wanted(ci_config, lambda path: True)
    only_mouse_eval = plots.plot_targets(ci_config, lambda path: path.startswith("results/eval/mouse"))
    assert only_mouse_eval == ["results/plots/mouse/tss_scatter.png", "results/plots/mouse/tss_scatter.pdf"]
    assert not plots.locus_figures_wanted(ci_config, lambda path: path != plots.MODEL_CKPT)
    ci_config["plots"]["enabled"] = False
    assert plots.plot_targets(ci_config, lambda path: True) == []
    assert not plots.locus_figures_wanted(ci_config, lambda path: True)


def test_vcf_genome(ci_config: dict) -> None:
    assert plots.vcf_genome(ci_config, "demo") is ci_config["genomes"]["human"]


def test_plot_tracks_reads_a_locus_from_the_loci_table(tmp_path: Path) -> None:
    from enformer_lite.plots.loci import locus_region

    table = tmp_path / "loci.tsv"
    write_loci([Locus("mine", Region("chr1", 10, 20), "config"), Locus("top1_g", Region("chr3", 7, 9), "auto")], table)
    assert locus_region(table, "top1_g") == Region("chr3", 7, 9)
    with pytest.raises(InputError, match="loci.tsv: no locus named 'other'"):
        locus_region(table, "other")
