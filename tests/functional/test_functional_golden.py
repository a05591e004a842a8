"""Golden trajectories: v(t) computed by hand for small inputs, run against every equation source.

One table, every source: the torch reference and each fused kernel backend (through the
``backend`` fixture: torch, numba, and cuda under ``NUMBA_ENABLE_CUDASIM=1``), and the
event-driven simulator (through a NIR export of the neuron, for every kind NIR can express).
Each case lists the input, the hand-computed spikes and post-reset membrane (and second state).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab import nn as snn
from snnlab.functional import KINDS
from snnlab.functional import neuron as F
from snnlab.functional.surrogate import ATan
from tests.cuda_device import dispatch

# (kind, params, x(t), spikes(t), v(t), second state(t) or None); comments show h(t) by hand
CASES = {
    # tau=2 (k=1/2): h = v + (x - v)/2: 0.5, 0.75, 0.875, 0.4375, 0.4375 + (3 - 0.4375)/2 = 1.71875 -> fire, v=0
    "lif_decay_input_hard": (
        "lif",
        F.LIFParams(tau=2.0),
        [1.0, 1.0, 1.0, 0.0, 3.0],
        [0, 0, 0, 0, 1],
        [0.5, 0.75, 0.875, 0.4375, 0.0],
        None,
    ),
    # h = v - v/2 + x: 0.6, 0.3 + 0.6 = 0.9, 0.45 + 0.6 = 1.05 -> fire, v=0; then 0
    "lif_no_decay_input": (
        "lif",
        F.LIFParams(tau=2.0, decay_input=False),
        [0.6, 0.6, 0.6, 0.0],
        [0, 0, 1, 0],
        [0.6, 0.9, 0.0, 0.0],
        None,
    ),
    # soft reset: 2.5/2 = 1.25 -> fire, v = 0.25; 0.25 - 0.25/2 = 0.125
    "lif_soft_reset": ("lif", F.LIFParams(tau=2.0, v_reset=None), [2.5, 0.0], [1, 0], [0.25, 0.125], None),
    # IF soft: 0.7, 1.4 -> fire 0.4, 1.1 -> fire 0.1, 0.8
    "if_soft_reset": ("if", F.IFParams(v_reset=None), [0.7, 0.7, 0.7, 0.7], [0, 1, 1, 0], [0.7, 0.4, 0.1, 0.8], None),
    # IF hard to -0.5, starting at rest v = -0.5: h 0.2, 0.9, 1.6 -> fire -0.5, 0.2
    "if_hard_reset": ("if", F.IFParams(v_reset=-0.5), [0.7, 0.7, 0.7, 0.7], [0, 0, 1, 0], [0.2, 0.9, -0.5, 0.2], None),
    # i = i + (x - i)/2: 1, 1.5, 0.75;  h = v + (-v + i)/2: 0.5, 0.5 + 1/2 = 1.0 -> fire (h >= 1), 0.375
    "cuba_lif": (
        "cuba_lif",
        F.CubaLIFParams(tau_syn=2.0, tau_mem=2.0),
        [2.0, 2.0, 0.0],
        [0, 1, 0],
        [0.5, 0.0, 0.375],
        [1.0, 1.5, 0.75],
    ),
    # theta = 1 + a: h 1.2 >= 1 fire v 0.2 a 1; h 1.3 < 2, a 0.5; h 1.85 >= 1.5 fire v 0.35 a 1.25
    "alif_soft": (
        "alif",
        F.ALIFParams(tau=2.0, tau_adapt=2.0, beta=1.0),
        [2.4, 2.4, 2.4],
        [1, 0, 1],
        [0.2, 1.3, 0.35],
        [1.0, 0.5, 1.25],
    ),
    # LI: v = v + (x - v)/2: 0.5, 0.75, 0.375 (the output is v)
    "li": ("li", F.LIParams(tau=2.0), [1.0, 1.0, 0.0], [0.5, 0.75, 0.375], [0.5, 0.75, 0.375], None),
}
SIM_CASES = sorted(c for c in CASES if KINDS.get(CASES[c][0]).nir_node)


def test_every_neuron_kind_has_a_golden_case():
    assert {kind for kind, *_ in CASES.values()} == set(KINDS)


def _trajectory(backend: str, kind: str, p, x: list) -> tuple:
    xs = torch.tensor(x, dtype=torch.float64).reshape(-1, 1)
    state = F.initial_state(kind, p, xs[0])
    seconds = []
    outs, vs = [], []
    for t in range(xs.shape[0]):  # step by step to see the second state, then compare with one call
        out, state, v = dispatch(f"neuron.{kind}", backend, xs[t : t + 1], state, p, ATan(), return_v=True)
        outs.append(out.item())
        vs.append(v.item())
        seconds.append(state[1].item() if len(state) > 1 else None)
    whole = dispatch(f"neuron.{kind}", backend, xs, F.initial_state(kind, p, xs[0]), p, ATan(), return_v=True)
    assert whole[0].flatten().tolist() == outs
    return outs, vs, seconds


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_trajectory(case, backend):
    kind, p, x, spikes, v, second = CASES[case]
    outs, vs, seconds = _trajectory(backend, kind, p, x)
    assert outs == pytest.approx(spikes, abs=1e-12)
    assert vs == pytest.approx(v, abs=1e-12)
    if second is not None:
        assert seconds == pytest.approx(second, abs=1e-12)


def _module(kind: str, p) -> torch.nn.Module:
    """``Linear(1, 1)`` with weight 1 feeding the neuron of ``kind`` built from ``p``."""
    fc = torch.nn.Linear(1, 1, bias=False, dtype=torch.float64)
    torch.nn.init.ones_(fc.weight)
    neuron = snn.neuron_class(kind)(**F.params_dict(p), dtype=torch.float64)
    return torch.nn.Sequential(fc, neuron)


@pytest.mark.parametrize("engine", ("numba", "reference", pytest.param("cuda", marks=pytest.mark.cuda)))
@pytest.mark.parametrize("case", SIM_CASES)
def test_golden_trajectory_event_driven(case, engine):
    """The simulator runs the NIR export of the neuron and must give the same hand-computed v(t)."""
    from snnlab.ir import to_nir
    from snnlab.sim import Simulator

    kind, p, x, spikes, v, _ = CASES[case]
    graph = to_nir(_module(kind, p), dt=1e-3)
    node = next(name for name, n in graph.nodes.items() if type(n).__name__ == KINDS.get(kind).nir_node)
    spiking = KINDS.get(kind).spiking
    sim = Simulator(graph, backend=engine, record=[node] if spiking else None, record_v=[node])
    result = sim.run(np.asarray(x, np.float64).reshape(-1, 1, 1))
    assert result.v[node].reshape(-1).tolist() == pytest.approx(v, abs=1e-12)
    if KINDS.get(kind).spiking:
        assert result.dense(node).reshape(-1).tolist() == pytest.approx(spikes, abs=1e-12)


def test_nan_never_spikes_and_stays_nan(backend):
    p = F.LIFParams(tau=2.0)
    x = torch.tensor([[0.5, float("nan"), 0.5], [5.0, 5.0, float("inf")], [5.0, 5.0, 0.0]], dtype=torch.float64)
    out, _, v = dispatch("neuron.lif", backend, x, F.initial_state("lif", p, x[0]), p, ATan(), return_v=True)
    assert out[:, 1].eq(0).all() and torch.isnan(v[:, 1]).all()  # NaN: never spikes, stays NaN
    assert out[1, 2] == 1 and torch.isnan(v[1, 2])  # inf: spikes, then inf - inf = NaN
