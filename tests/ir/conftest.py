"""Factories for the NIR tests: small snnlab models and hand-built graphs."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn

from snnlab import nn as snn

DT = 1e-3


def mlp(
    neuron: nn.Module, readout: nn.Module, n_in: int = 6, n_hidden: int = 8, n_out: int = 3, seed: int = 0
) -> nn.Sequential:
    """Linear -> neuron -> Linear -> readout, weights scaled up so that neurons fire.

    The weights are drawn from a generator seeded with ``seed`` (not from the global RNG, whose
    state depends on which tests ran before in the same process)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        first, second = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_out)
    model = nn.Sequential(snn.TimeDistributed(first), neuron, snn.TimeDistributed(second), readout)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def spikes(*shape: int, p: float = 0.5, seed: int = 0) -> torch.Tensor:
    """A reproducible Bernoulli spike train of ``shape`` (time-major)."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < p).float()


def lif_node(n: int, tau_s: float = 2e-3, **meta) -> nir.LIF:
    """A uniform NIR LIF of ``n`` neurons (r = 1, threshold 1, reset to 0)."""
    return nir.LIF(
        tau=np.full(n, tau_s),
        r=np.ones(n),
        v_leak=np.zeros(n),
        v_threshold=np.ones(n),
        v_reset=np.zeros(n),
        metadata=dict(meta),
    )


@pytest.fixture
def delay_graph() -> tuple[nir.NIRGraph, np.ndarray, np.ndarray]:
    """A delay-group graph built by hand: ``(graph, weight (3, 4), delays (3, 4))``."""
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(3, 4)).astype(np.float32) * 2
    delays = np.array([[0, 1, 3, 1], [3, 3, 0, 1], [1, 1, 1, 1]])
    nodes = {"input": nir.Input(np.array([4])), "output": nir.Output(np.array([3])), "lif": lif_node(3)}
    edges = [("lif", "output")]
    for d in np.unique(delays):
        meta = {"snnlab.layer": "fc", "snnlab.delay_steps": int(d)}
        nodes[f"fc.d{d}"] = nir.Linear(np.where(delays == d, weight, 0).astype(np.float32), metadata=meta)
        nodes[f"fc.d{d}.delay"] = nir.Delay(np.full(3, d * DT), metadata=dict(meta))
        edges += [("input", f"fc.d{d}"), (f"fc.d{d}", f"fc.d{d}.delay"), (f"fc.d{d}.delay", "lif")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})
    return graph, weight, delays
