"""Fixtures for the hardware tests: small NIR graphs and activity profiles."""

from __future__ import annotations

import nir
import numpy as np
import pytest


def lif(n: int) -> nir.LIF:
    return nir.LIF(np.full(n, 0.01), np.ones(n), np.zeros(n), np.ones(n), np.zeros(n))


def mlp_graph(n_in: int = 700, hidden: int = 128, n_out: int = 20, seed: int = 0, delays: tuple = ()) -> nir.NIRGraph:
    """input -> fc1 [-> delay groups] -> lif1 -> fc2 -> li -> output."""
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input(np.array([n_in])),
        "lif1": lif(hidden),
        "fc2": nir.Linear(rng.normal(size=(n_out, hidden))),
        "li": nir.LI(np.full(n_out, 0.01), np.ones(n_out), np.zeros(n_out)),
        "output": nir.Output(np.array([n_out])),
    }
    edges = [("lif1", "fc2"), ("fc2", "li"), ("li", "output")]
    if not delays:
        nodes["fc1"] = nir.Affine(rng.normal(size=(hidden, n_in)), np.zeros(hidden))
        edges += [("input", "fc1"), ("fc1", "lif1")]
    for d in delays:
        nodes[f"fc1.d{d}"] = nir.Linear(rng.normal(size=(hidden, n_in)) * (rng.random((hidden, n_in)) < 0.2))
        nodes[f"fc1.d{d}.delay"] = nir.Delay(np.full(hidden, d * 1e-3))
        edges += [("input", f"fc1.d{d}"), (f"fc1.d{d}", f"fc1.d{d}.delay"), (f"fc1.d{d}.delay", "lif1")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-3})


@pytest.fixture
def graph() -> nir.NIRGraph:
    return mlp_graph()
