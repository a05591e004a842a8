"""Event-driven spikes equal an independent torch reference step for step (float64)."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snnlab.sim import Simulator


def _spikes(graph, x, backend="numba", dtype=np.float64, name="output"):
    return Simulator(graph, backend=backend, dtype=dtype).run(x).dense(name).astype(np.float64)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_mlp_matches_torch(sim_nets, soft, decay_input, backend):
    rng = np.random.default_rng(1)
    g, ref = sim_nets.mlp(rng, soft=soft, decay_input=decay_input)
    x = (rng.random((40, 3, 12)) < 0.3).astype(np.float64)
    want = ref(x)
    got = _spikes(g, x, backend)
    assert want.sum() > 10, "the network must spike for the test to mean something"
    np.testing.assert_array_equal(got, want)


@pytest.mark.slow  # compiles the float32 engine (about a minute on 2 cores)
def test_mlp_float32_within_tolerance(sim_nets):
    """float32 state: at most 1% of output spike entries differ from float64 (documented)."""
    rng = np.random.default_rng(2)
    g, ref = sim_nets.mlp(rng)
    x = (rng.random((60, 4, 12)) < 0.3).astype(np.float64)
    got = _spikes(g, x, dtype=np.float32)
    assert np.mean(got != ref(x)) <= 0.01


def test_real_valued_input_and_li_readout(sim_nets):
    """Non-binary input (MACs) into an LI readout: membrane values equal the torch equations."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 6))
    tau = 5.0
    nodes = {
        "input": nir.Input(np.array([6])),
        "fc": nir.Linear(w),
        "li": nir.LI(tau=np.full(4, tau * sim_nets.DT), r=np.ones(4), v_leak=np.zeros(4)),
        "output": nir.Output(np.array([4])),
    }
    g = sim_nets.graph(nodes, [("input", "fc"), ("fc", "li"), ("li", "output")])
    x = rng.normal(size=(15, 2, 6))
    res = Simulator(g).run(x)
    v, want = np.zeros((2, 4)), []
    for t in range(15):
        v = v + (x[t] @ w.T - v) / tau
        want.append(v)
    np.testing.assert_allclose(res.output("output"), np.stack(want), rtol=1e-12, atol=1e-12)


def test_conv_pool_matches_torch(sim_nets):
    rng = np.random.default_rng(4)
    w1, b1 = rng.normal(0, 0.6, (4, 2, 3, 3)), rng.normal(0, 0.1, 4)
    w2 = rng.normal(0, 0.5, (3, 4 * 4 * 4))
    nodes = {
        "input": nir.Input(np.array([2, 8, 8])),
        "conv": nir.Conv2d((8, 8), w1, 1, 1, 1, 1, b1),
        "if1": nir.IF(
            r=np.full((4, 8, 8), 1 / sim_nets.DT), v_threshold=np.ones((4, 8, 8)), v_reset=np.zeros((4, 8, 8))
        ),
        "pool": nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "flat": nir.Flatten({"input": np.array([4, 4, 4])}, 0),
        "fc": nir.Linear(w2),
        "lif": sim_nets.lif_node(3, 3.0),
        "output": nir.Output(np.array([3])),
    }
    edges = [
        ("input", "conv"),
        ("conv", "if1"),
        ("if1", "pool"),
        ("pool", "flat"),
        ("flat", "fc"),
        ("fc", "lif"),
        ("lif", "output"),
    ]
    g = sim_nets.graph(nodes, edges)
    x = (rng.random((30, 2, 2, 8, 8)) < 0.25).astype(np.float64)
    v1, v2, want = torch.zeros(2, 4, 8, 8, dtype=torch.float64), None, []
    for t in range(30):
        v1 = v1 + F.conv2d(torch.tensor(x[t]), torch.tensor(w1), torch.tensor(b1), padding=1)
        s1 = (v1 >= 1).double()
        v1 = v1 * (1 - s1)
        h = F.avg_pool2d(s1, 2) * 4
        s2, v2 = sim_nets.torch_lif(h.reshape(2, -1) @ torch.tensor(w2).T, 3.0, False, v=v2)
        want.append(s2.numpy())
    want = np.stack(want)
    assert want.sum() > 5
    np.testing.assert_array_equal(_spikes(g, x), want)
    np.testing.assert_array_equal(_spikes(g, x, "reference"), want)


def test_recurrent_matches_torch(sim_nets):
    rng = np.random.default_rng(5)
    w_in, w_rec = rng.normal(0.8, 1.0, (10, 5)), rng.normal(0, 0.5, (10, 10))
    nodes = {
        "input": nir.Input(np.array([5])),
        "fc": nir.Linear(w_in),
        "rec": nir.Linear(w_rec),
        "lif": sim_nets.lif_node(10, 4.0),
        "output": nir.Output(np.array([10])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    g = sim_nets.graph(nodes, edges)
    x = (rng.random((50, 3, 5)) < 0.5).astype(np.float64)
    s, v, want = torch.zeros(3, 10, dtype=torch.float64), None, []
    for t in range(50):
        s, v = sim_nets.torch_lif(
            torch.tensor(x[t]) @ torch.tensor(w_in).T + s @ torch.tensor(w_rec).T, 4.0, False, v=v
        )
        want.append(s.numpy())
    want = np.stack(want)
    assert want.sum() > 10
    np.testing.assert_array_equal(_spikes(g, x), want)
    np.testing.assert_array_equal(_spikes(g, x, "reference"), want)


def test_delay_groups_match_torch(sim_nets):
    """Affine -> Delay groups (docs/nir_conventions.md) equal per-synapse integer delays."""
    rng = np.random.default_rng(6)
    n_in, n_out, dmax = 6, 8, 4
    w = rng.normal(0.6, 1.0, (n_out, n_in))
    d = rng.integers(0, dmax + 1, (n_out, n_in))
    nodes = {
        "input": nir.Input(np.array([n_in])),
        "lif": sim_nets.lif_node(n_out, 3.0),
        "output": nir.Output(np.array([n_out])),
    }
    edges = [("lif", "output")]
    for k in np.unique(d):
        nodes[f"fc.d{k}"] = nir.Linear(np.where(d == k, w, 0.0))
        nodes[f"fc.d{k}.delay"] = nir.Delay(np.full(n_out, k * sim_nets.DT))
        edges += [("input", f"fc.d{k}"), (f"fc.d{k}", f"fc.d{k}.delay"), (f"fc.d{k}.delay", "lif")]
    g = sim_nets.graph(nodes, edges)
    x = (rng.random((40, 2, n_in)) < 0.3).astype(np.float64)
    xt, v, want = torch.tensor(x), None, []
    for t in range(40):
        cur = torch.zeros(2, n_out, dtype=torch.float64)
        for i in range(n_out):
            for j in range(n_in):
                if t - d[i, j] >= 0:
                    cur[:, i] += w[i, j] * xt[t - d[i, j], :, j]
        s, v = sim_nets.torch_lif(cur, 3.0, False, v=v)
        want.append(s.numpy())
    want = np.stack(want)
    assert want.sum() > 10
    np.testing.assert_array_equal(_spikes(g, x), want)
    np.testing.assert_array_equal(_spikes(g, x, "reference"), want)


def test_cuba_lif_matches_equations(sim_nets):
    rng = np.random.default_rng(7)
    n, tau_syn, tau_mem = 5, 3.0, 6.0
    node = nir.CubaLIF(
        tau_syn=np.full(n, tau_syn * sim_nets.DT),
        tau_mem=np.full(n, tau_mem * sim_nets.DT),
        r=np.ones(n),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, 0.5),
        v_reset=np.zeros(n),
        w_in=np.full(n, 2.0),
    )
    g = sim_nets.graph(
        {"input": nir.Input(np.array([n])), "cuba": node, "output": nir.Output(np.array([n]))},
        [("input", "cuba"), ("cuba", "output")],
    )
    x = (rng.random((40, 2, n)) < 0.3).astype(np.float64)
    i, v, want = np.zeros((2, n)), np.zeros((2, n)), []
    for t in range(40):
        i = i + (2.0 * x[t] - i) / tau_syn
        v = v + (0.0 - v + i) / tau_mem
        s = v >= 0.5
        v = np.where(s, 0.0, v)
        want.append(s)
    want = np.stack(want).astype(np.float64)
    assert want.sum() > 3
    np.testing.assert_array_equal(_spikes(g, x), want)
