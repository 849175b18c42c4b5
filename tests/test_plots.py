"""Figures: each figure function draws a non-empty image of the expected size from tiny inputs;
the readers behind them return the numbers an independent computation gives."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pyfaidx
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from enformer_lite.cli import main
from enformer_lite.errors import InputError
from enformer_lite.plots.accuracy import plot_track_pearson, plot_tss_scatter
from enformer_lite.plots.loci import auto_loci, parse_locus, read_loci, write_loci
from enformer_lite.plots.predicted import predict_signal
from enformer_lite.plots.readers import observed_signal, overlapping
from enformer_lite.plots.style import DPI, WIDTH, save_figure
from enformer_lite.plots.tracks import TrackSignal, plot_tracks
from enformer_lite.plots.training import plot_training_curves, read_metrics
from enformer_lite.data.regions import Region
from test_plots_support import BIN, CROP_BP, TARGET, TRACKS, WINDOW, make_world, write_checkpoint, write_data_h5, write_metrics_csv


def image(path: Path) -> np.ndarray:
    """RGB(A) pixels of a PNG, shape (height, width, channels), values in [0, 1]."""
    return matplotlib.image.imread(path)


def ink(pixels: np.ndarray) -> float:
    """Fraction of pixels that are not white."""
    return float((pixels[..., :3] < 0.95).any(axis=-1).mean())


def check_png(path: Path, fig) -> np.ndarray:
    """The PNG has the figure's size at DPI and something drawn on it."""
    pixels = image(path)
    width, height = fig.get_size_inches()
    assert pixels.shape[:2] == (round(height * DPI), round(width * DPI))  # sizes are whole pixels
    assert ink(pixels) > 0.02
    return pixels


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    world = make_world(root)
    write_data_h5(world, root / "data.h5")
    write_checkpoint(root / "best.ckpt")
    return world


def synthetic_signals(n_tracks: int, bins: int, seed: int = 0) -> list[TrackSignal]:
    rng = np.random.default_rng(seed)
    assays = ["DNASE", "CAGE", "CHIP"]
    return [
        TrackSignal(f"track{i}", assays[i % 3], "+" if i % 3 == 1 else ".", rng.gamma(0.5, 2.0, bins),
                    rng.gamma(0.5, 2.0, bins))
        for i in range(n_tracks)
    ]


def test_track_plot_png_and_pdf(tmp_path: Path) -> None:
    region = Region("chr3", 100_000, 100_000 + 200 * BIN)
    genes = pd.DataFrame({"chrom": "chr3", "tss": [110_000, 120_000], "strand": ["+", "-"], "gene_id": ["gA", "gB"]})
    elements = pd.DataFrame({"chrom": "chr3", "start": [105_000, 115_000], "end": [105_500, 115_300]})
    small = plot_tracks(region, BIN, synthetic_signals(2, 200), genes, elements, title="test", marks=[112_000])
    big = plot_tracks(region, BIN, synthetic_signals(5, 200), genes, elements)
    paths = save_figure(small, [tmp_path / "small.png", tmp_path / "small.pdf"])
    save_figure(big, [tmp_path / "big.png"])
    small_px = check_png(paths[0], small)
    big_px = check_png(tmp_path / "big.png", big)
    assert big_px.shape[0] > small_px.shape[0] + 3 * 2 * 0.3 * DPI  # 3 more tracks, two rows each
    assert paths[1].read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*tmp*")), "no temporary files left behind"


def test_gene_labels_do_not_overlap(tmp_path: Path) -> None:
    region = Region("chr1", 0, 100_000)
    tss = [20_000, 20_500, 21_000, 21_500, 60_000]
    genes = pd.DataFrame({"chrom": "chr1", "tss": tss, "strand": ["+", "+", "-", "+", "-"],
                          "gene_id": [f"GENE_LONG_NAME_{i}" for i in range(5)]})
    fig = plot_tracks(region, BIN, synthetic_signals(1, 100_000 // BIN), genes, None)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = [t for ax in fig.axes for t in ax.texts if t.get_text().strip().startswith("GENE_LONG_NAME")]
    assert len(labels) >= 4  # at most one of the four crowded labels is left out for lack of lanes
    boxes = [t.get_window_extent(renderer) for t in labels]
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b)


def test_observed_signal_is_the_bin_mean(world) -> None:
    region = Region("chr2", 256, 256 + 10 * BIN)  # covers the NaN stretch 500-900 of every track
    got = observed_signal(world.root / "dnase.bw", region, BIN)
    per_base = np.nan_to_num(world.signal["dnase"]["chr2"][256 : 256 + 10 * BIN])
    np.testing.assert_allclose(got, per_base.reshape(10, BIN).mean(axis=1), rtol=1e-5)
    # "2" is matched to "chr2"; bins past the chromosome end are 0
    tail = observed_signal(world.root / "dnase.bw", Region("2", 12_000 - BIN, 12_000 + BIN), BIN)
    assert tail[1] == 0.0
    assert tail[0] == pytest.approx(world.signal["dnase"]["chr2"][-BIN:].mean(), rel=1e-5)


def test_elements_overlapping_a_region(world) -> None:
    from enformer_lite.data.candidates import read_candidates_bed

    rows = overlapping(read_candidates_bed(world.candidates), Region("chr3", 7_300, 9_000))
    assert rows["element"].tolist() == ["enh1"]  # 7,000-7,400 overlaps; 10,000-10,300 and chr1 do not
    assert overlapping(read_candidates_bed(world.candidates), Region("chr3", 7_400, 10_000)).empty


def test_prediction_equals_the_model_on_the_window(world) -> None:
    from enformer_lite.inference.checkpoint import load_checkpoint

    start = 4096  # a window start; its target span is start + CROP_BP ...
    region = Region("chr3", start + CROP_BP, start + CROP_BP + TARGET * BIN)
    got = predict_signal(world.root / "best.ckpt", world.fasta, region, head="human")
    assert got.region == region and got.values.shape == (TARGET, len(TRACKS))
    model, _ = load_checkpoint(world.root / "best.ckpt")
    seq = str(pyfaidx.Fasta(str(world.fasta))["chr3"][start : start + WINDOW]).upper()
    x = torch.tensor(np.array([[base == b for b in "ACGT"] for base in seq], dtype=np.float32))[None]
    with torch.no_grad():
        raw = model(x, head="human")[0].numpy()
    for track in TRACKS:
        v = raw[:, track["index"]] / track["scale"]
        if track["clip_soft"] is not None:
            c = track["clip_soft"]
            v = np.where(v > c, c + (v - c) ** 2, v)
        if track["sum_stat"] == "sum":
            v = v / BIN
        np.testing.assert_allclose(got.values[:, track["index"]], v, rtol=1e-4, atol=1e-6)


def test_auto_loci_start_at_the_strongest_cage(world, tmp_path: Path) -> None:
    data = world.root / "data.h5"
    loci = auto_loci(data, world.genes, n=5, width=4_000)
    # g_hot (chr3:9,000) has by far the most CAGE; test genes only (chr3); loci never overlap
    assert loci[0].name == "top1_g_hot" and loci[0].region.start <= 9_000 < loci[0].region.end
    assert {x.region.chrom for x in loci} == {"chr3"}
    assert "g_train" not in " ".join(x.name for x in loci)
    spans = sorted((x.region.start, x.region.end) for x in loci)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    configured = parse_locus("mine=chr3:8,000-10,000", 1)
    others = auto_loci(data, world.genes, n=1, width=4_000, taken=[configured.region])
    assert "g_hot" not in others[0].name
    table = tmp_path / "loci.tsv"
    write_loci([configured, *others], table)
    assert [x.name for x in read_loci(table)] == ["mine", others[0].name]
    assert read_loci(table)[0].region == Region("chr3", 8_000, 10_000)
    with pytest.raises(InputError, match="duplicate"):
        write_loci([configured, configured], table)


def test_track_pearson_figure(tmp_path: Path) -> None:
    tables = []
    for genome, n in (("human", 8), ("mouse", 3)):
        tables.append(pd.DataFrame({
            "genome": genome, "track_id": [f"{genome}_{i}" for i in range(n)],
            "assay": ["CAGE" if i % 2 else "DNASE" for i in range(n)], "pearson": np.linspace(0.1, 0.9, n),
            "pearson_tss": [0.5 if i % 2 else np.nan for i in range(n)],
        }))
    fig = plot_track_pearson(tables)
    save_figure(fig, [tmp_path / "acc.png"])
    check_png(tmp_path / "acc.png", fig)
    bars = [ax for ax in fig.axes if ax.patches]
    assert [len(ax.patches) for ax in bars] == [8, 3]
    # sorted: the top bar (largest y) is the best track
    top = max(bars[0].patches, key=lambda p: p.get_y())
    assert top.get_width() == pytest.approx(0.9)


def test_negative_tss_correlations_stay_inside_the_axes() -> None:
    table = pd.DataFrame({"genome": "human", "track_id": ["a", "b", "c"], "assay": ["CAGE", "CAGE", "DNASE"],
                          "pearson": [0.3, 0.2, 0.4], "pearson_tss": [-0.3, 0.1, np.nan]})
    fig = plot_track_pearson([table])
    ax = next(ax for ax in fig.axes if ax.patches)
    left, right = ax.get_xlim()
    points = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    assert len(points) == 2 and left < points.min() and points.max() < right


def test_tss_scatter_reports_scipy_pearson(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    observed = rng.gamma(1.0, 20.0, 40)
    values = pd.DataFrame({"gene_id": [f"g{i}" for i in range(40)], "track_id": "cage",
                           "observed": observed, "predicted": observed * rng.uniform(0.5, 1.5, 40)})
    fig = plot_tss_scatter(values, title="human")
    save_figure(fig, [tmp_path / "tss.png"])
    check_png(tmp_path / "tss.png", fig)
    title = fig.axes[0].get_title()
    raw = stats.pearsonr(values["observed"], values["predicted"]).statistic
    log = stats.pearsonr(np.log1p(values["observed"]), np.log1p(values["predicted"])).statistic
    assert f"n = 40 genes\nr = {log:.2f} (log), {raw:.2f} (raw)" in title
    empty = plot_tss_scatter(values.iloc[:0])
    save_figure(empty, [tmp_path / "empty.png"])
    assert ink(image(tmp_path / "empty.png")) > 0.001


def test_training_curves(tmp_path: Path) -> None:
    write_metrics_csv(tmp_path / "metrics.csv")
    metrics = read_metrics(tmp_path / "metrics.csv")
    fig = plot_training_curves(metrics)
    save_figure(fig, [tmp_path / "train.png"])
    check_png(tmp_path / "train.png", fig)
    loss, pearson, lr = fig.axes
    assert loss.get_ylabel() == "loss" and lr.get_ylabel() == "learning rate"
    val = [line for line in pearson.get_lines() if line.get_label() == "human"][0]
    np.testing.assert_allclose(val.get_xdata(), [19, 39, 59])
    (tmp_path / "bad.csv").write_text("epoch,loss\n0,1\n")
    with pytest.raises(InputError, match="bad.csv.*'step'"):
        read_metrics(tmp_path / "bad.csv")


def test_plot_tracks_cli_writes_png(world, tmp_path: Path) -> None:
    out = tmp_path / "locus.png"
    args = ["plot-tracks", "--checkpoint", str(world.root / "best.ckpt"), "--fasta", str(world.fasta),
            "--tracks", str(world.tracks), "--genes", str(world.genes), "--candidates", str(world.candidates),
            "--region", "chr3:4,000-14,000", "--track", "cage_plus", "--track", "dnase", "--out", str(out)]
    assert main(args) == 0
    pixels = image(out)
    assert pixels.shape[1] == WIDTH * DPI and ink(pixels) > 0.02
    # observed-only, from one bigWig
    assert main(["plot-tracks", "--bigwig", f"dnase={world.root / 'dnase.bw'}", "--region", "chr1:0-5000",
                 "--out", str(tmp_path / "obs.png")]) == 0
    assert (tmp_path / "obs.png").is_file()
    assert main(["plot-tracks", "--bigwig", f"x={world.root / 'dnase.bw'}", "--region", "chr1:0-5000",
                 "--out", str(tmp_path / "x.svg")]) == 2
    assert main(["plot-tracks", "--tracks", str(world.tracks), "--track", "nope", "--region", "chr1:0-5000",
                 "--out", str(tmp_path / "y.png")]) == 2
    assert not (tmp_path / "y.png").exists()


def test_variant_figures_show_the_model_on_ref_and_alt(world, tmp_path: Path) -> None:
    from enformer_lite.plots.variants import (
        plot_score_distribution,
        plot_top_variants,
        read_variant_scores,
        top_alleles,
        variant_panels,
    )
    from enformer_lite.data.genes import read_genes_bed
    from enformer_lite.inference.checkpoint import load_checkpoint

    seq = world.sequences["chr3"]
    snp_alt = "A" if seq[7_999] != "A" else "C"
    variants = [("chr3", 8_000, seq[7_999], snp_alt, 2.0), ("chr3", 9_500, seq[9_499], seq[9_499] + "G", -5.0),
                ("chr3", 12_000, seq[11_999], "T" if seq[11_999] != "T" else "A", 0.5)]
    from test_plots_support import write_variant_scores

    write_variant_scores(tmp_path / "v.h5", world, variants)
    scores = read_variant_scores(tmp_path / "v.h5")
    rows = top_alleles(scores, 2)
    assert rows.tolist() == [1, 0]  # |SAD| 5 > 2 > 0.5
    panels = variant_panels(scores, rows, world.root / "best.ckpt", world.fasta)
    model, _ = load_checkpoint(world.root / "best.ckpt")
    for panel, (chrom, pos, ref, alt, sad) in zip(panels, [variants[1], variants[0]]):
        assert panel.track.id == "cage_plus" and panel.sad == pytest.approx(sad)
        start = pos - 1 - WINDOW // 2
        window = seq[start : start + WINDOW + 1]
        offset = pos - 1 - start
        edited = (window[:offset] + alt + window[offset + len(ref):])[:WINDOW]  # kipoiseq-style, fixed length
        x = torch.tensor(np.array([[[b == c for c in "ACGT"] for b in s[:WINDOW]] for s in (window, edited)],
                                  dtype=np.float32))
        with torch.no_grad():
            raw = model(x, head="human")[:, :, 1].numpy()  # cage_plus: sum track, scale 1, no clip: bin sums
        np.testing.assert_allclose(panel.ref, raw[0], rtol=1e-4)
        np.testing.assert_allclose(panel.alt, raw[1], rtol=1e-4)
        assert panel.region.start == start + CROP_BP and panel.position == pos - 1
    for name, fig in (("top", plot_top_variants(panels, read_genes_bed(world.genes))),
                      ("dist", plot_score_distribution(scores))):
        save_figure(fig, [tmp_path / f"{name}.png"])
        check_png(tmp_path / f"{name}.png", fig)


def test_variant_figure_differences_sum_to_the_scored_sad(world, tmp_path: Path) -> None:
    """Scored for real with test-time averaging; the figure's alt − ref bars sum to the SAD it prints."""
    from enformer_lite.plots.variants import read_variant_scores, top_alleles, variant_panels

    seq = world.sequences["chr3"]
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr3>", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for pos in (8_000, 9_000, 11_000):
        alt = "A" if seq[pos - 1] != "A" else "C"
        lines.append(f"chr3\t{pos}\t.\t{seq[pos - 1]}\t{alt}\t.\tPASS\t.")
    vcf = tmp_path / "v.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    settings = '{"variants": {"reverse_complement": true, "shifts": [0, 3]}}'
    assert main(["score-variants", "--vcf", str(vcf), "--fasta", str(world.fasta), "--checkpoint",
                 str(world.root / "best.ckpt"), "--head", "human", "--out-prefix", str(tmp_path / "v"),
                 "--params", settings]) == 0
    scores = read_variant_scores(tmp_path / "v.h5")
    panels = variant_panels(scores, top_alleles(scores, 3), world.root / "best.ckpt", world.fasta)
    assert len(panels) == 3
    for panel in panels:
        assert float(np.sum(panel.alt.astype(np.float64) - panel.ref)) == pytest.approx(panel.sad, rel=1e-3, abs=1e-6)
        assert panel.sad != 0


def test_contribution_figure(world, tmp_path: Path) -> None:
    from enformer_lite.contributions.outputs import read_scores
    from enformer_lite.plots.contributions import binned_track, choose_genes, gene_contributions, plot_contributions
    from test_plots_support import write_contributions

    table_path, tracks_dir, values = write_contributions(tmp_path, world)
    table = read_scores(table_path)
    assert choose_genes(table, [], 1) == ["g_hot"]  # highest gene_signal
    with pytest.raises(InputError, match="no_such_gene"):
        choose_genes(table, ["no_such_gene"], 1)
    region, track, step = binned_track(tracks_dir / "g_hot.bw", "chr3")
    assert region == Region("chr3", 9_000 - WINDOW // 2, 9_000 + WINDOW // 2)
    padded = np.concatenate([values["g_hot"], np.zeros(-WINDOW % step)])
    np.testing.assert_allclose(track, padded.reshape(-1, step).sum(1), rtol=1e-5, atol=1e-6)
    item = gene_contributions(table, "g_hot", tracks_dir)
    fig = plot_contributions([item], "deletion", top_links=5)
    save_figure(fig, [tmp_path / "contrib.png"])
    check_png(tmp_path / "contrib.png", fig)
    arcs = [p for ax in fig.axes for p in ax.patches if type(p).__name__ == "Arc"]
    assert len(arcs) == int((item.elements["deletion"] > 0).sum())


def test_tracks_can_be_chosen_by_assay_and_description() -> None:
    from types import SimpleNamespace

    from enformer_lite.data.tracks import TrackSpec
    from enformer_lite.plots.plot_tracks import collect_signals

    tracks = [TrackSpec(0, "c1", "f", "CAGE", description="CAGE:liver adult"),
              TrackSpec(1, "d1", "f", "DNASE", description="DNASE:liver"),
              TrackSpec(2, "c2", "f", "CAGE", description="CAGE:brain")]
    prediction = SimpleNamespace(tracks=tracks, values=np.arange(30, dtype=float).reshape(10, 3))
    region = Region("chr1", 0, 10 * BIN)
    chosen = collect_signals(region, BIN, [], prediction, only=["CAGE:liver", "c2"])
    assert [s.id for s in chosen] == ["c1", "c2"]
    np.testing.assert_array_equal(chosen[1].predicted, prediction.values[:, 2])
    assert [s.id for s in collect_signals(region, BIN, [], prediction, only=["liver"])] == ["c1", "d1"]
