"""Contribution methods against analytic values of a linear model and against full forward passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from enformer_lite.contributions.config import ContributionsConfig
from enformer_lite.contributions.methods import ContributionScorer, abc_scores, strand_weights
from enformer_lite.contributions.regions import ElementIndex
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.contributions.runner import Edit, ModelRunner, SplicedRunner, make_runner
from enformer_lite.model import ModelConfig, build_model
from enformer_lite.data.sequence import N_CODE, one_hot
from enformer_lite.data.tracks import TrackSpec

GEOMETRY = WindowGeometry(window_length=1024, bin_size=16, target_length=32)
TRACKS = (
    TrackSpec(0, "dnase", "dnase.bw", assay="DNASE"),
    TrackSpec(1, "cage_plus", "p.bw", assay="CAGE", strand="+", strand_pair=2),
    TrackSpec(2, "cage_minus", "m.bw", assay="CAGE", strand="-", strand_pair=1),
)


class LinearModel(nn.Module):
    """y[b, t, k] = a[t, k] * sum over l, c of W[l, c] * x[b, l, c]: every derivative is known."""

    def __init__(self, weight: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.float32))
        self.scale = nn.Parameter(torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        return (x * self.weight).sum(dim=(1, 2))[:, None, None] * self.scale[None]


def _genes_and_elements(tss: int, elements: list[tuple[int, int]]) -> tuple[pd.Series, ElementIndex]:
    gene = pd.Series({"chrom": "chr1", "tss": tss, "end": tss + 1, "gene_id": "g1", "score": "0", "strand": "+"})
    frame = pd.DataFrame(
        [("chr1", s, e, f"e{i}") for i, (s, e) in enumerate(elements)], columns=["chrom", "start", "end", "element"]
    )
    return gene, ElementIndex(frame)


@pytest.fixture
def linear_setup():
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(GEOMETRY.window_length, 4))
    weight[600:700] = 0.0  # the model ignores these window positions
    scale = rng.uniform(0.5, 1.5, size=(GEOMETRY.target_length, len(TRACKS)))
    model = LinearModel(weight, scale)
    tss = 5_000
    start = GEOMETRY.window_around_bin(tss)
    # element 0 in a used stretch, element 1 inside the ignored stretch
    gene, index = _genes_and_elements(tss, [(start + 100, start + 180), (start + 610, start + 690)])
    plan, partial = index.plan(gene, GEOMETRY)
    codes = rng.integers(0, 4, size=(1, GEOMETRY.window_length)).astype(np.uint8)
    codes[0, 150:155] = N_CODE
    return model, weight, scale, plan, codes, partial


def _analytic_factor(scale: np.ndarray, flank: int, strand: str) -> float:
    """A = sum over TSS output bins and target tracks of a[t, k]."""
    bins = GEOMETRY.centre_bins(flank) - GEOMETRY.crop
    targets = [t for t in TRACKS if t.assay == "CAGE" and t.strand in (".", strand)]
    return float(sum(scale[b, t.index] for b in bins for t in targets))


def _scorer(model: nn.Module, cfg: ContributionsConfig) -> ContributionScorer:
    runner = make_runner(model, "human", GEOMETRY, GEOMETRY.centre_bins(cfg.tss_flank_bins), cfg.batch_size)
    targets = [t for t in TRACKS if t.assay == "CAGE"]
    return ContributionScorer(runner, cfg, targets, [TRACKS[0]], len(TRACKS))


def test_grad_input_of_linear_model_is_analytic(linear_setup):
    model, weight, scale, plan, codes, _ = linear_setup
    cfg = ContributionsConfig(methods=("grad_input",), tss_flank_bins=1)
    (result,) = _scorer(model, cfg).score([plan], codes)
    factor = _analytic_factor(scale, 1, "+")
    observed = np.where(codes[0] < 4, weight[np.arange(len(codes[0])), np.minimum(codes[0], 3)], 0.0)
    np.testing.assert_allclose(result.grad_input, factor * observed, rtol=1e-5, atol=1e-6)
    expected = [factor * observed[s:e].sum() for s, e in zip(plan.elements["rel_start"], plan.elements["rel_end"])]
    np.testing.assert_allclose(result.table["grad_input"], expected, rtol=1e-5, atol=1e-6)
    expected_abs = [factor * np.abs(observed[s:e]).sum() for s, e in zip(plan.elements["rel_start"], plan.elements["rel_end"])]
    np.testing.assert_allclose(result.table["grad_input_abs"], expected_abs, rtol=1e-5, atol=1e-6)
    assert result.table["grad_input"].iloc[1] == 0.0
    np.testing.assert_allclose(result.signal, factor * observed.sum(), rtol=1e-5)


@pytest.mark.parametrize("mode", ["shuffle", "mask"])
def test_deleting_an_ignored_element_scores_zero(linear_setup, mode):
    model, weight, scale, plan, codes, _ = linear_setup
    cfg = ContributionsConfig(methods=("deletion",), deletion_mode=mode, deletion_draws=3)
    (result,) = _scorer(model, cfg).score([plan], codes)
    assert result.table["deletion"].iloc[1] == 0.0
    assert result.table["deletion"].iloc[0] != 0.0


def test_masking_deletion_of_linear_model_is_analytic(linear_setup):
    model, weight, scale, plan, codes, _ = linear_setup
    cfg = ContributionsConfig(methods=("deletion",), deletion_mode="mask", tss_flank_bins=0)
    (result,) = _scorer(model, cfg).score([plan], codes)
    factor = _analytic_factor(scale, 0, "+")
    observed = np.where(codes[0] < 4, weight[np.arange(len(codes[0])), np.minimum(codes[0], 3)], 0.0)
    s, e = plan.elements["rel_start"].iloc[0], plan.elements["rel_end"].iloc[0]
    np.testing.assert_allclose(result.table["deletion"].iloc[0], factor * observed[s:e].sum(), rtol=1e-4)
    np.testing.assert_allclose(result.table["deletion_fraction"].iloc[0], observed[s:e].sum() / observed.sum(), rtol=1e-4)


def test_linear_model_has_no_attention_and_nan_outside_output_bins(linear_setup):
    model, _, _, plan, codes, _ = linear_setup
    (result,) = _scorer(model, ContributionsConfig(methods=("attention",))).score([plan], codes)
    assert result.table["attention"].isna().all()
    # element 0 lies in the cropped flank (bins 6-11 of 64, output bins are 16-47): no accessibility
    assert np.isnan(result.table["accessibility"].iloc[0])


def test_strand_weights_keep_unstranded_and_same_strand_tracks():
    targets = [TRACKS[1], TRACKS[2], TrackSpec(3, "cage", "c.bw", assay="CAGE")]
    np.testing.assert_array_equal(strand_weights(targets, 4, "+"), [0, 1, 0, 1])
    np.testing.assert_array_equal(strand_weights(targets, 4, "-"), [0, 0, 1, 1])
    np.testing.assert_array_equal(strand_weights(targets, 4, "."), [0, 1, 1, 1])


def test_abc_is_normalised_activity_times_contact():
    acc = np.array([2.0, 1.0, np.nan, 4.0])
    dist = np.array([0, 5000, 100, 15000])
    got = abc_scores(acc, dist, gamma=1.0, scale=5000.0)
    raw = np.array([2.0 / 1.0, 1.0 / 2.0, np.nan, 4.0 / 4.0])
    np.testing.assert_allclose(got, raw / np.nansum(raw))


def _tiny_enformer(attention: bool) -> nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(
        channels=24, num_transformer_layers=1, num_heads=2, key_size=8, num_conv_tower=3, channel_divisor=4,
        target_length=GEOMETRY.target_length, heads={"human": len(TRACKS)}, dropout=0.0, attention=attention,
        num_dilated_layers=3,
    )
    model = build_model(cfg).eval()
    with torch.no_grad():  # move away from the identity initialisation of attention outputs and norms
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("attention", [True, False])
def test_spliced_runner_matches_full_forward_passes(attention):
    model = _tiny_enformer(attention)
    tss_bins = GEOMETRY.centre_bins(1)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(one_hot(rng.integers(0, 4, size=(2, GEOMETRY.window_length)).astype(np.uint8)))
    weights = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    full, spliced = ModelRunner(model, "human", GEOMETRY, tss_bins, 3), SplicedRunner(model, "human", GEOMETRY, tss_bins, 3)
    ref_full, ref_spliced = full.reference(x, weights, True), spliced.reference(x, weights, True)
    assert spliced.verified and ref_spliced.tower is not None
    np.testing.assert_allclose(ref_spliced.signal, ref_full.signal, rtol=1e-5)
    np.testing.assert_allclose(ref_spliced.grad_input, ref_full.grad_input, rtol=1e-4, atol=1e-7)
    crop = slice(GEOMETRY.crop, GEOMETRY.crop + GEOMETRY.target_length)
    np.testing.assert_allclose(ref_spliced.bins[:, crop], ref_full.bins[:, crop], rtol=1e-5, atol=1e-6)
    replacement = torch.from_numpy(one_hot(rng.integers(0, 4, size=100).astype(np.uint8)))
    edits = [
        Edit(0, 0, 40, torch.zeros(40, 4)),  # at the window's left edge
        Edit(1, 500, 600, replacement),  # around the TSS
        Edit(0, 1000, 1024, torch.zeros(24, 4)),  # at the right edge
        Edit(1, 300, 301, torch.tensor([[0.0, 0.0, 0.0, 1.0]])),
    ]
    np.testing.assert_allclose(spliced.edited_signal(ref_spliced, edits), full.edited_signal(ref_full, edits), rtol=1e-5)
    direct = []
    with torch.no_grad():
        for e in edits:
            edited = x[e.item].clone()
            edited[e.start : e.end] = e.replacement
            pred = model(edited[None], head="human")[0, tss_bins - GEOMETRY.crop]
            direct.append(float((pred * weights[e.item]).sum()))
    np.testing.assert_allclose(spliced.edited_signal(ref_spliced, edits), direct, rtol=1e-5)


def test_attention_score_is_mean_weight_from_tss_bins():
    model = _tiny_enformer(True)
    tss_bins = GEOMETRY.centre_bins(1)
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(1, GEOMETRY.window_length)).astype(np.uint8)
    with torch.no_grad():
        _, layers = model(torch.from_numpy(one_hot(codes)), head="human", return_attention=True)
    # independent: average heads, then layers, then the TSS query rows
    per_layer = [w[0].numpy().mean(axis=0) for w in layers]
    profile = np.mean(per_layer, axis=0)[tss_bins].mean(axis=0)
    tss = 5_000
    start = GEOMETRY.window_around_bin(tss)
    gene, index = _genes_and_elements(tss, [(start + 32, start + 64), (start + 40, start + 72)])
    plan, _ = index.plan(gene, GEOMETRY)
    cfg = ContributionsConfig(methods=("attention",), tss_flank_bins=1)
    for runner_cls in (ModelRunner, SplicedRunner):
        runner = runner_cls(model, "human", GEOMETRY, tss_bins, 2)
        scorer = ContributionScorer(runner, cfg, [TRACKS[1]], [TRACKS[0]], len(TRACKS))
        (result,) = scorer.score([plan], codes)
        # element 0 covers bins 2 and 3 exactly; element 1 covers half of 2, all of 3 and half of 4
        expected = [profile[2] + profile[3], 0.5 * profile[2] + profile[3] + 0.5 * profile[4]]
        np.testing.assert_allclose(result.table["attention"], expected, rtol=1e-5)


def test_cnn_only_model_gives_nan_attention():
    model = _tiny_enformer(False)
    tss = 5_000
    start = GEOMETRY.window_around_bin(tss)
    gene, index = _genes_and_elements(tss, [(start + 32, start + 64)])
    plan, _ = index.plan(gene, GEOMETRY)
    codes = np.random.default_rng(2).integers(0, 4, size=(1, GEOMETRY.window_length)).astype(np.uint8)
    cfg = ContributionsConfig(methods=("attention", "deletion"), deletion_draws=2)
    (result,) = _scorer(model, cfg).score([plan], codes)
    assert result.table["attention"].isna().all()
    assert np.isfinite(result.table["deletion"]).all()
    # the spliced path predicts every bin, so accessibility exists even in the cropped flank
    assert np.isfinite(result.table["accessibility"]).all()
