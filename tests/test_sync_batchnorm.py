"""Batch statistics are synchronised across processes in the fused conv blocks (two gloo processes)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from enformer_lite.model.layers import ConvBlock

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()), reason="needs the gloo backend"
)


def _inputs(rank: int) -> torch.Tensor:
    """Each process's batch (2, 3, 50): different means per rank, so local and global statistics differ."""
    generator = torch.Generator().manual_seed(rank)
    return torch.randn(2, 3, 50, generator=generator) * (1 + rank) + 3.0 * rank


def _block() -> ConvBlock:
    torch.manual_seed(0)
    block = ConvBlock(3, 4, kernel_size=3)
    with torch.no_grad():  # not the default affine, so that a mistake in it shows
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
    return block


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    block = _block()
    x = _inputs(rank).requires_grad_(True)
    y = block(x)
    y.square().sum().backward()
    torch.save({"running_mean": block.norm.running_mean, "running_var": block.norm.running_var,
                "y": y.detach(), "x_grad": x.grad}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_normalise_with_the_statistics_of_both_batches(tmp_path: Path) -> None:
    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    both = torch.cat([_inputs(0), _inputs(1)]).double()  # (4, 3, 50): the global batch
    mean, var = both.mean(dim=(0, 2)), both.var(dim=(0, 2), unbiased=True)
    # one process holding the whole batch: the same block in plain single-process training mode
    single = _block().double()
    whole = both.clone().requires_grad_(True)
    expected = single(whole)
    expected.square().sum().backward()
    for rank, result in enumerate(results):
        # first update of a zero-debiased moving average: the batch's own statistics
        np.testing.assert_allclose(result["running_mean"], mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result["running_var"], var, rtol=1e-5)
        half = slice(2 * rank, 2 * rank + 2)
        np.testing.assert_allclose(result["y"].double(), expected[half].detach(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result["x_grad"].double(), whole.grad[half], rtol=1e-3, atol=1e-4)
    # and the local statistics would have been different
    assert not np.allclose(_inputs(0).mean(dim=(0, 2)).numpy(), mean.numpy(), atol=0.1)


def test_single_process_training_keeps_the_fused_path() -> None:
    block = _block()
    x = torch.randn(2, 3, 20, requires_grad=True)
    y = block(x)
    assert y.grad_fn is not None and "NormActConv" in type(y.grad_fn).__name__


def test_running_statistics_are_a_zero_debiased_moving_average() -> None:
    """As the published model's Sonnet BatchNorm: m_t = (1 - d) Σ d^(t-i) x_i / (1 - d^t), d = 0.9."""
    block = _block()
    batches = [torch.randn(2, 3, 30) * (1 + i) + i for i in range(4)]
    for x in batches:
        block(x)
    d = 0.9
    weights = np.array([(1 - d) * d ** (len(batches) - 1 - i) for i in range(len(batches))]) / (1 - d ** len(batches))
    means = np.stack([x.double().mean(dim=(0, 2)).numpy() for x in batches])
    variances = np.stack([x.double().var(dim=(0, 2), unbiased=True).numpy() for x in batches])
    np.testing.assert_allclose(block.norm.running_mean.numpy(), weights @ means, rtol=1e-5)
    np.testing.assert_allclose(block.norm.running_var.numpy(), weights @ variances, rtol=1e-5)
