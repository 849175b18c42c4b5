"""ISM: analytic effects of a linear model, spliced passes against direct forward passes, outputs."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest
import torch
from torch import nn

from enformer_lite.contributions.runner import ModelRunner, SplicedRunner
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.sequence import one_hot
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.errors import InputError
from enformer_lite.interpret.config import IsmConfig
from enformer_lite.interpret.ism import IsmRegion, ism_window, per_base_effect, run_ism, summary_matrix
from enformer_lite.interpret.ism_io import parse_region, read_h5, select_regions, write_bigwig, write_h5
from enformer_lite.model import ModelConfig, build_model

GEOMETRY = WindowGeometry(window_length=1024, bin_size=16, target_length=32)
N_TRACKS = 3


class LinearModel(nn.Module):
    """Every output bin of track t = sum_p,c W[p, c, t] x[p, c] + b_t (a known linear response)."""

    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.weights = nn.Parameter(weights)  # (L, 4, T)
        self.bias = nn.Parameter(torch.ones(weights.shape[-1]))

    def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
        value = torch.einsum("blc,lct->bt", x, self.weights) + self.bias
        return value[:, None, :].expand(-1, GEOMETRY.target_length, -1)


def test_ism_of_a_linear_model_equals_the_analytic_effect() -> None:
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(GEOMETRY.window_length, 4, N_TRACKS))
    model = LinearModel(torch.tensor(weights, dtype=torch.float64))
    codes = rng.integers(0, 4, GEOMETRY.window_length).astype(np.uint8)
    codes[505] = 4  # an N: no effect defined
    bins = GEOMETRY.centre_bins(2)
    runner = ModelRunner(model.float(), "human", GEOMETRY, bins, batch_size=5)
    reference, effect = ism_window(runner, codes, 490, 530)
    k = len(bins)
    expected = np.zeros((40, 4, N_TRACKS))
    for p in range(40):
        ref = codes[490 + p]
        for b in range(4):
            expected[p, b] = k * (weights[490 + p, b] - weights[490 + p, ref]) if ref < 4 else np.nan
    np.testing.assert_allclose(effect, expected, rtol=1e-4, atol=1e-4)
    assert np.isnan(effect[15]).all() and (effect[0, codes[490]] == 0).all()
    x = one_hot(codes).astype(np.float64)
    np.testing.assert_allclose(reference, k * (np.einsum("lc,lct->t", x, weights) + 1), rtol=1e-4)
    assert runner.passes == 1 + 39 * 3


def _tiny_enformer() -> nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(
        channels=24, num_transformer_layers=1, num_heads=2, key_size=8, num_conv_tower=3, channel_divisor=4,
        target_length=GEOMETRY.target_length, heads={"human": N_TRACKS}, dropout=0.0,
    )
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_spliced_ism_matches_direct_forward_passes() -> None:
    model = _tiny_enformer()
    bins = GEOMETRY.centre_bins(1)
    codes = np.random.default_rng(2).integers(0, 4, GEOMETRY.window_length).astype(np.uint8)
    runner = SplicedRunner(model, "human", GEOMETRY, bins, batch_size=4)
    reference, effect = ism_window(runner, codes, 500, 506)
    assert runner.verified
    crop = GEOMETRY.crop
    with torch.no_grad():
        x = torch.from_numpy(one_hot(codes))[None]
        ref_direct = model(x, head="human")[0, bins - crop].sum(0).numpy()
        np.testing.assert_allclose(reference, ref_direct, rtol=1e-5)
        for p in range(6):
            for b in range(4):
                edited = codes.copy()
                edited[500 + p] = b
                out = model(torch.from_numpy(one_hot(edited))[None], head="human")[0, bins - crop].sum(0).numpy()
                np.testing.assert_allclose(effect[p, b], out - ref_direct, rtol=1e-4, atol=1e-6)


def test_outputs_round_trip(tmp_path) -> None:
    weights = np.zeros((GEOMETRY.window_length, 4, N_TRACKS))
    weights[:, 2, 0] = 1.0  # G raises track 0 by 1 per readout bin
    model = LinearModel(torch.tensor(weights, dtype=torch.float32))
    runner = ModelRunner(model, "human", GEOMETRY, GEOMETRY.centre_bins(0), batch_size=8)
    chrom = np.zeros(5000, dtype=np.uint8)  # all A

    def fetch(c: str, s: int, e: int) -> np.ndarray:
        out = np.full(e - s, 4, dtype=np.uint8)
        lo, hi = max(s, 0), min(e, chrom.shape[0])
        out[lo - s : hi - s] = chrom[lo:hi]
        return out

    regions = [IsmRegion("r1", "region", "chr1", 1000, 1010, 1005), IsmRegion("r2", "region", "chr1", 1005, 1020, 1012)]
    results = run_ism(runner, fetch, regions)
    tracks = [TrackSpec(index=i, id=f"t{i}", file=f"t{i}.bw") for i in range(N_TRACKS)]
    write_h5(tmp_path / "ism.h5", results, tracks, [0], {"head": "human"})
    back = read_h5(tmp_path / "ism.h5")
    assert list(back["regions"]["name"]) == ["r1", "r2"] and back["effect"].shape == (25, 4, N_TRACKS)
    np.testing.assert_allclose(back["effect"][:, 2, 0], 1.0)  # A→G raises track 0 by 1 everywhere
    assert (back["pos"][:10] == np.arange(1000, 1010)).all()
    n = write_bigwig(tmp_path / "ism.bw", results, np.array([0]), {"chr1": 5000})
    assert n == 20  # 1000..1019, overlap written once
    with pyBigWig.open(str(tmp_path / "ism.bw")) as bw:
        values = np.array(bw.values("chr1", 1000, 1020))
    np.testing.assert_allclose(values, 1.0 / 3.0)  # mean over the 3 alternatives: G gives 1, C and T 0
    np.testing.assert_allclose(per_base_effect(summary_matrix(results[0].effect, np.array([0]))), 1.0 / 3.0)


def test_region_selection_and_bad_regions() -> None:
    sizes = {"chr1": 10_000}
    import pandas as pd

    genes = pd.DataFrame({"chrom": ["chr1"], "tss": [100], "end": [101], "gene_id": ["g1"], "score": [0], "strand": ["+"]})
    elements = pd.DataFrame({"chrom": ["chr1"], "start": [2000], "end": [6000], "element": ["e1"]})
    cfg = IsmConfig(genes=("g1",), elements=("e1",), regions=("chr1:10-20",), flank=5, max_region_bp=1000)
    regions = select_regions(cfg, sizes, genes, elements)
    assert [(r.kind, r.start, r.end) for r in regions] == [("tss", 95, 106), ("element", 3500, 4500), ("region", 10, 20)]
    with pytest.raises(InputError, match="not chrom:start-end"):
        parse_region("chr1:20", sizes)
    with pytest.raises(InputError, match="outside"):
        parse_region("chr1:9000-20000", sizes)
    with pytest.raises(InputError, match="unknown element"):
        select_regions(IsmConfig(elements=("nope",)), sizes, genes, elements)
    with pytest.raises(InputError, match="interpret.ism.batch_size"):
        IsmConfig(batch_size=0)
