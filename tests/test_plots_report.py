"""The figure rules under Snakemake and `snakemake --report`: a tiny world whose model, training
log and evaluation tables are made by the test, so only the plot rules run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pandas as pd
import yaml

from test_plots_support import BIN, TARGET, WINDOW, make_world, write_checkpoint, write_data_h5, write_metrics_csv

ROOT = Path(__file__).resolve().parents[1]
PLOT_RULES = ["plot_loci", "plot_locus", "plot_training", "plot_accuracy", "plot_tss"]


def snakemake(work: Path, config: Path, targets: list[str], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
         "--configfile", str(config), "--cores", "2", *options, "--allowed-rules", *PLOT_RULES, "--", *targets],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )


def test_plot_rules_and_report(tmp_path: Path) -> None:
    world = make_world(tmp_path / "inputs")
    work = tmp_path / "work"
    (work / "results/human").mkdir(parents=True)
    (work / "results/model").mkdir(parents=True)
    (work / "results/eval").mkdir(parents=True)
    write_data_h5(world, work / "results/human/data.h5")
    write_checkpoint(work / "results/model/best.ckpt")
    write_metrics_csv(work / "results/model/metrics.csv", organisms=("human",))
    pd.DataFrame({"genome": "human", "head": "human", "track_index": [0, 1, 2], "track_id": ["dnase", "cage_plus", "cage_minus"],
                  "assay": ["DNASE", "CAGE", "CAGE"], "strand": [".", "+", "-"], "pearson": [0.5, 0.7, 0.3]}).to_csv(
        work / "results/eval/human.tsv", sep="\t", index=False)
    pd.DataFrame({"gene_id": ["g_low", "g_hot"], "chrom": "chr3", "tss": [3000, 9000], "strand": "+",
                  "track_id": "cage_plus", "observed": [100.0, 1600.0], "predicted": [80.0, 900.0]}).to_csv(
        work / "results/eval/human.tss.tsv", sep="\t", index=False)
    config = {
        "simulate": {"enabled": False},
        "genomes": {"human": {"fasta": str(world.fasta), "tracks": str(world.tracks), "genes": str(world.genes),
                              "candidates": str(world.candidates), "splits": {"valid": ["chr2"], "test": ["chr3"]}}},
        "windows": {"length": WINDOW, "stride": 2048, "bin_size": BIN, "target_length": TARGET, "max_n_fraction": 0.35},
        "plots": {"loci": {"human": ["mine=chr1:1,000-5,000"]}, "auto_loci": 1, "locus_width": 4000},
    }
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    # one job per rule keeps this quick: the automatic locus top1_g_hot is chosen but not drawn
    figures = ["results/plots/training.png", "results/plots/accuracy.pdf", "results/plots/human/tss_scatter.png",
               "results/plots/human/tracks/mine.png"]

    run = snakemake(work, config_file, figures)
    assert run.returncode == 0, run.stderr[-3000:]
    loci = pd.read_csv(work / "results/plots/human/loci.tsv", sep="\t")
    assert loci["name"].tolist() == ["mine", "top1_g_hot"]
    for figure in figures:
        path = work / figure
        assert path.stat().st_size > 5_000, figure
        if path.suffix == ".png":
            # 8 in at 150 dpi; the TSS scatter has one square panel per CAGE track (one here, 8/3 in)
            width = 400 if "tss_scatter" in figure else 1200
            assert matplotlib.image.imread(path).shape[1] == width, figure
        else:
            assert path.read_bytes()[:5] == b"%PDF-"

    report = work / "results/report.html"
    run = snakemake(work, config_file, figures, "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    # captions are reStructuredText: a stray markup character (e.g. |x|) renders as an error box
    assert "(ERROR/" not in run.stderr, run.stderr[-3000:]
    html = report.read_text()
    for text in ("Tracks at loci", "Model accuracy", "Training", "enformer-lite", "Pearson correlation"):
        assert text in html, text
    # everything is embedded: no script, style sheet or image is fetched from the network
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_every_caption_is_clean_restructuredtext() -> None:
    """docutils reports no warning or error for any caption (e.g. |SAD| would be a substitution)."""
    import io

    import docutils.core

    captions = sorted((ROOT / "workflow" / "report").glob("*.rst"))
    assert len(captions) >= 7
    for caption in captions:
        messages = io.StringIO()
        docutils.core.publish_doctree(caption.read_text(), source_path=str(caption),
                                      settings_overrides={"warning_stream": messages, "report_level": 2})
        assert not messages.getvalue(), messages.getvalue()
