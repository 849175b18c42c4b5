"""Scores against hand computation, strand symmetry under RC averaging, shared reference windows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from enformer_lite.data.sequence import decode, encode, reverse_complement
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.variants.config import ScoreConfig
from enformer_lite.variants.outputs import write_outputs
from enformer_lite.inference.signal import Untransform
from enformer_lite.inference.trained import TrainedModel
from enformer_lite.variants.score import score_vcf
from enformer_lite.variants.scores import allele_scores
from test_variants_support import (
    BIN_SIZE,
    TARGET_LENGTH,
    TRACKS,
    WINDOW_LENGTH,
    ConvBinModel,
    LinearBinModel,
    random_genome,
    scoring_model,
    write_vcf,
)

CHROM_LENGTH = 3072  # a multiple of every grid used below
WEIGHT = np.array([[0.10, 0.30, 0.20], [0.40, 0.05, 0.90], [0.25, 0.60, 0.15], [0.70, 0.20, 0.50]])  # (A,C,G,T) × tracks
BIAS = np.array([0.5, 1.0, 0.2])
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return random_genome(tmp_path_factory.mktemp("scores"), {"chr1": CHROM_LENGTH}, seed=11)


def score_records(
    root: Path, fasta: Path, records: list[str], scoring: TrainedModel, genes: list[str] | None = None, **settings: object
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Score VCF lines; returns the scores TSV, the genes TSV and the run summary."""
    root.mkdir(parents=True, exist_ok=True)
    vcf = write_vcf(root / "in.vcf", records, {"chr1": CHROM_LENGTH})
    bed = None
    if genes is not None:
        bed = root / "genes.bed"
        bed.write_text("".join(line + "\n" for line in genes))
    summary = score_vcf(vcf, fasta, scoring, root / "out.h5", ScoreConfig(**settings), bed)
    paths = write_outputs(root / "out.h5", vcf, root / "out")
    return pd.read_csv(paths["tsv"], sep="\t"), pd.read_csv(paths["genes"], sep="\t"), summary


def _untransform(x: float, track: TrackSpec) -> float:
    """The tracks-table inverse transform, written out for one value."""
    v = x / track.scale
    if track.clip_soft is not None and v > track.clip_soft:
        v = track.clip_soft + (v - track.clip_soft) ** 2
    return v


@pytest.mark.parametrize("grid", [2, 64])
def test_linear_model_scores_match_hand_computation(tmp_path: Path, genome: tuple[Path, dict[str, str]], grid: int) -> None:
    fasta, seq = genome
    text = seq["chr1"]
    pos = 1500  # 1-based
    ref_base = text[pos - 1]
    alt_base = next(b for b in "ACGT" if b != ref_base)
    # Genes: TSS in the variant's bin (+ strand), 5 bins away, and outside the target window.
    centre = (pos - 1 + grid // 2) // grid * grid
    window_start = centre - WINDOW_LENGTH // 2
    target_start = window_start + (WINDOW_LENGTH // BIN_SIZE - TARGET_LENGTH) // 2 * BIN_SIZE
    variant_bin = (pos - 1 - target_start) // BIN_SIZE
    bin_start = target_start + variant_bin * BIN_SIZE
    genes = [
        f"chr1\t{bin_start + 3}\t{bin_start + 4}\tnear\t0\t+",
        f"chr1\t{bin_start + 5 * BIN_SIZE}\t{bin_start + 5 * BIN_SIZE + 1}\tfar\t0\t-",
        f"chr1\t{target_start + TARGET_LENGTH * BIN_SIZE + 10}\t{target_start + TARGET_LENGTH * BIN_SIZE + 11}\toutside\t0\t+",
    ]
    model = LinearBinModel(WEIGHT, BIAS)
    scores, gene_table, _ = score_records(
        tmp_path, fasta, [f"chr1\t{pos}\trs1\t{ref_base}\t{alt_base}"], scoring_model(model), genes, grid=grid, tss_half_bins=1
    )
    row = scores.iloc[0]
    assert (row["chrom"], row["pos"], row["id"], row["ref"], row["alt"]) == ("chr1", pos, "rs1", ref_base, alt_base)
    base_index = {b: i for i, b in enumerate("ACGT")}

    def bin_value(sequence: str, b: int, t: int) -> float:
        start = target_start + b * BIN_SIZE
        return BIAS[t] + sum(WEIGHT[base_index[c], t] for c in sequence[start : start + BIN_SIZE])

    alt_text = text[: pos - 1] + alt_base + text[pos:]
    for t, track in enumerate(TRACKS):
        r = _untransform(bin_value(text, variant_bin, t), track)
        a = _untransform(bin_value(alt_text, variant_bin, t), track)
        assert row[f"SAD:{track.id}"] == pytest.approx(a - r, rel=1e-4, abs=1e-4)
        assert row[f"LOG2R:{track.id}"] == pytest.approx(math.log2(1 + a) - math.log2(1 + r), rel=1e-4, abs=1e-5)
        assert row[f"D2:{track.id}"] == pytest.approx(abs(a - r), rel=1e-4, abs=1e-4)
        assert row[f"MAXD:{track.id}"] == pytest.approx(a - r, rel=1e-4, abs=1e-4)
    # Per-gene scores: only CAGE tracks, TSS bin ± 1.
    assert sorted(gene_table["gene_id"]) == ["far", "near"]
    assert [c for c in gene_table.columns if ":" in c] == [
        "delta:cage_plus", "delta:cage_minus", "log2fc:cage_plus", "log2fc:cage_minus"
    ]
    near = gene_table.set_index("gene_id").loc["near"]
    far = gene_table.set_index("gene_id").loc["far"]
    # distance along each gene's direction of transcription: + gene: variant − TSS; − gene: TSS − variant
    assert near["distance"] == (pos - 1) - (bin_start + 3) and near["gene_strand"] == "+"
    assert far["distance"] == (bin_start + 5 * BIN_SIZE) - (pos - 1) and far["gene_strand"] == "-"
    # each stranded CAGE track scores only the genes on its strand: near (+) on cage_plus, far (-) on cage_minus
    t = 0
    r = sum(bin_value(text, b, t) for b in range(variant_bin - 1, variant_bin + 2))
    a = sum(bin_value(alt_text, b, t) for b in range(variant_bin - 1, variant_bin + 2))
    assert near["delta:cage_plus"] == pytest.approx(a - r, abs=1e-4)
    assert near["log2fc:cage_plus"] == pytest.approx(math.log2(1 + a) - math.log2(1 + r), abs=1e-5)
    assert far["delta:cage_minus"] == pytest.approx(0.0, abs=1e-5)
    assert all(math.isnan(v) for v in (near["delta:cage_minus"], near["log2fc:cage_minus"], far["delta:cage_plus"]))


def test_allele_scores_by_hand() -> None:
    ref = np.array([[1.0], [5.0], [2.0]])
    alt = np.array([[2.0], [1.0], [2.0]])
    sad, log2r, d2, maxd = allele_scores(ref, alt)[:, 0]
    assert sad == pytest.approx(-3.0)
    assert log2r == pytest.approx(math.log2(3 / 2) + math.log2(2 / 6))
    assert d2 == pytest.approx(math.sqrt(17.0))
    assert maxd == pytest.approx(-4.0)


def test_original_scale_matches_track_untransform() -> None:
    rng = np.random.default_rng(0)
    tracks = [
        TrackSpec(0, "a", "a.bw", scale=0.5, clip_soft=2.0),
        TrackSpec(1, "b", "b.bw", scale=2.0),
        TrackSpec(2, "c", "c.bw", scale=0.5, clip_soft=2.0),
        TrackSpec(3, "d", "d.bw", scale=0.25, clip_soft=1.0),
    ]
    values = rng.gamma(1.0, 2.0, size=(5, 7, 4)).astype(np.float32)
    out = Untransform(tracks, "native", BIN_SIZE)(values)
    for t, track in enumerate(tracks):
        expected = np.vectorize(lambda x: _untransform(float(x), track))(values[..., t])
        np.testing.assert_allclose(out[..., t], expected, rtol=1e-5)


def _strand_symmetric_model(seed: int = 1) -> ConvBinModel:
    """ConvBinModel whose output on the reverse complement is its flipped output with strand pairs swapped.

    Kernel of track pair(t) = kernel of t with bases complemented and positions reversed
    (for the unstranded track, a palindromic kernel), biases equal within a pair.
    """
    model = ConvBinModel(len(TRACKS), seed=seed)
    with torch.no_grad():
        w = model.conv.weight  # (T, 4, K)
        w[1] = w[0].flip(0).flip(1)  # complement = reverse of the A,C,G,T axis
        w[2] = 0.5 * (w[2] + w[2].flip(0).flip(1))
        model.conv.bias[1] = model.conv.bias[0]
    return model


def _mirrored(tmp: Path, text: str) -> Path:
    path, _ = random_genome(tmp, {"chr1": 10}, name="rc.fa")
    path.write_text(">chr1\n" + decode(reverse_complement(encode(text))) + "\n")
    return path


@pytest.mark.parametrize("model_kind", ["symmetric", "asymmetric"])
def test_rc_averaging_scores_a_variant_the_same_on_either_strand(
    tmp_path: Path, genome: tuple[Path, dict[str, str]], model_kind: str
) -> None:
    fasta, seq = genome
    text = seq["chr1"]
    mirror = _mirrored(tmp_path / "rc", text)
    model = _strand_symmetric_model() if model_kind == "symmetric" else ConvBinModel(len(TRACKS), seed=2)
    forward, backward = [], []
    for k, pos in enumerate((700, 1201, 1530, 2222)):
        ref_base = text[pos - 1]
        alt_base = "ACGT"[("ACGT".index(ref_base) + 1 + k % 3) % 4]
        forward.append(f"chr1\t{pos}\t.\t{ref_base}\t{alt_base}")
        backward.append(f"chr1\t{CHROM_LENGTH - pos + 1}\t.\t{COMPLEMENT[ref_base]}\t{COMPLEMENT[alt_base]}")
    backward.reverse()
    pair = [t.strand_pair for t in TRACKS]
    score_columns = None
    results = {}
    for rc, shifts in ((True, (0,)), (True, (-1, 0, 1)), (False, (0,))):
        settings = dict(grid=64, reverse_complement=rc, shifts=shifts)
        fwd, _, _ = score_records(tmp_path / f"f{rc}{len(shifts)}", fasta, forward, scoring_model(model), **settings)
        bwd, _, _ = score_records(tmp_path / f"b{rc}{len(shifts)}", mirror, backward, scoring_model(model), **settings)
        bwd = bwd.iloc[::-1].reset_index(drop=True)
        score_columns = [c for c in fwd.columns if ":" in c]
        swapped = [f"{c.split(':')[0]}:{TRACKS[pair[[t.id for t in TRACKS].index(c.split(':')[1])]].id}" for c in score_columns]
        results[(rc, len(shifts))] = (fwd[score_columns].to_numpy(), bwd[swapped].to_numpy())
    for key in ((True, 1), (True, 3)):
        np.testing.assert_allclose(*results[key], rtol=2e-4, atol=1e-5)
    fwd_plain, bwd_plain = results[(False, 1)]
    if model_kind == "symmetric":
        np.testing.assert_allclose(fwd_plain, bwd_plain, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(results[(True, 1)][0], fwd_plain, rtol=2e-4, atol=1e-5)
    else:  # without averaging an asymmetric model sees two different sequences
        assert not np.allclose(fwd_plain, bwd_plain, rtol=1e-3, atol=1e-4)


def test_variants_in_one_grid_cell_share_the_reference(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    text = seq["chr1"]
    model = ConvBinModel(len(TRACKS), seed=3)
    positions = [1290, 1300, 1301, 2400]  # the first three fall in one 64-bp grid cell
    records = []
    for pos in positions:
        ref_base = text[pos - 1]
        records.append(f"chr1\t{pos}\tv{pos}\t{ref_base}\t{'ACGT'[('ACGT'.index(ref_base) + 1) % 4]}")
    records.insert(3, f"chr1\t1305\tdel\t{text[1304:1308]}\t{text[1304]}")
    together, _, summary = score_records(tmp_path / "all", fasta, records, scoring_model(model), grid=64, batch_size=3)
    assert summary["sequences"] == 2 + len(records)  # two reference windows, one alternative per allele
    for k, record in enumerate(records):
        alone, _, alone_summary = score_records(tmp_path / f"one{k}", fasta, [record], scoring_model(model), grid=64)
        assert alone_summary["sequences"] == 2
        columns = [c for c in alone.columns if ":" in c]
        np.testing.assert_allclose(together.loc[k, columns].to_numpy(float), alone.loc[0, columns].to_numpy(float), rtol=1e-4, atol=1e-6)
        assert together.loc[k, "id"] == alone.loc[0, "id"]
