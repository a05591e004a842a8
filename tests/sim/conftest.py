"""Graph builders and an independent torch reference of the discrete equations for sim tests.

The torch reference is written from docs/nir_conventions.md (spikingjelly-style LIF with
``decay_input``, hard or soft reset), not from the simulator's code.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import nir
import numpy as np
import pytest
import torch

DT = 1e-3


def lif_node(
    n: int, tau: float, soft: bool = False, decay_input: bool = True, v_th: float = 1.0, v_reset: float = 0.0
) -> nir.LIF:
    """nir.LIF written as snnlab does for ``LIF(tau steps, decay_input, v_reset or soft)``."""
    vr = 0.0 if soft else v_reset
    node = nir.LIF(
        tau=np.full(n, tau * DT),
        r=np.full(n, 1.0 if decay_input else tau),
        v_leak=np.full(n, vr),
        v_threshold=np.full(n, v_th),
        v_reset=np.full(n, vr),
    )
    node.metadata = {"reset_mode": "subtract" if soft else "zero"}
    return node


def graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})


def torch_lif(
    x: torch.Tensor,
    tau: float,
    soft: bool,
    decay_input: bool = True,
    v_th: float = 1.0,
    v_reset: float = 0.0,
    v: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of spikingjelly's LIF. x (B, N) -> (spike, v)."""
    vr = 0.0 if soft else v_reset
    v = torch.full_like(x, vr) if v is None else v
    v = v + (x - (v - vr)) / tau if decay_input else v - (v - vr) / tau + x
    s = (v >= v_th).to(x.dtype)
    v = v - s * v_th if soft else torch.where(s.bool(), torch.full_like(v, vr), v)
    return s, v


def mlp(rng: np.random.Generator, sizes=(12, 20, 16, 5), soft=False, decay_input=True):
    """Input -> (Affine -> LIF)* -> Output and its torch reference."""
    ws = [rng.normal(0.3, 1.0, (b, a)) * 3.0 / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.1, b) for b in sizes[1:]]
    taus = [2.0 + i for i in range(len(ws))]
    nodes = {"input": nir.Input(np.array([sizes[0]])), "output": nir.Output(np.array([sizes[-1]]))}
    edges, prev = [], "input"
    for i, (w, b, tau) in enumerate(zip(ws, bs, taus)):
        nodes[f"fc{i}"] = nir.Affine(w, b)
        nodes[f"lif{i}"] = lif_node(w.shape[0], tau, soft, decay_input)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    edges.append((prev, "output"))

    def ref(x: np.ndarray) -> np.ndarray:
        xt, vs, out = torch.tensor(x), [None] * len(ws), []
        for t in range(x.shape[0]):
            h = xt[t]
            for i, (w, b, tau) in enumerate(zip(ws, bs, taus)):
                h, vs[i] = torch_lif(h @ torch.tensor(w).T + torch.tensor(b), tau, soft, decay_input, v=vs[i])
            out.append(h)
        return torch.stack(out).numpy()

    return graph(nodes, edges), ref


@pytest.fixture
def sim_nets():
    """This module's builders (lif_node, graph, torch_lif, mlp, DT)."""
    return SimpleNamespace(
        **{k: getattr(sys.modules[__name__], k) for k in ("lif_node", "graph", "torch_lif", "mlp", "DT")}
    )
