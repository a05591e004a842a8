"""numba-cuda kernels under the CUDA simulator give the spikes of the numba CPU kernels.

Marked ``cuda``: skipped in the usual process, run by tests/test_cuda_simulator.py in a fresh
interpreter with ``NUMBA_ENABLE_CUDASIM=1`` (numba reads it when ``numba.cuda`` is first imported).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from snnlab.sim import Network, Simulator

pytestmark = pytest.mark.cuda


def _both(graph, x, record=None, **kw):
    """Results of the numba and cuda backends on the same input (float64)."""
    cpu = Simulator(graph, backend="numba", record=record, **kw).run(x, steps=kw.get("steps"))
    gpu = Simulator(graph, backend="cuda", record=record, **kw).run(x, steps=kw.get("steps"))
    return cpu, gpu


def _assert_same(cpu, gpu, min_spikes=5):
    assert sorted(cpu.spikes) == sorted(gpu.spikes)
    total = 0
    for name in cpu.spikes:
        np.testing.assert_array_equal(cpu.dense(name), gpu.dense(name))
        total += len(cpu.spikes[name])
    assert total >= min_spikes, "the network must spike for the comparison to mean something"
    np.testing.assert_allclose(cpu.raw_counts["syn_events"], gpu.raw_counts["syn_events"])
    np.testing.assert_allclose(cpu.raw_counts["out_events"], gpu.raw_counts["out_events"])


def test_mlp_with_delay_groups(sim_nets):
    rng = np.random.default_rng(11)
    n_in, n_hid, n_out = 6, 8, 4
    w1, d1 = rng.normal(0.6, 1.0, (n_hid, n_in)), rng.integers(0, 4, (n_hid, n_in))
    nodes = {
        "input": nir.Input(np.array([n_in])),
        "lif1": sim_nets.lif_node(n_hid, 3.0, soft=True),
        "fc2": nir.Affine(rng.normal(0.5, 1.0, (n_out, n_hid)), rng.normal(0, 0.1, n_out)),
        "lif2": sim_nets.lif_node(n_out, 2.0),
        "output": nir.Output(np.array([n_out])),
    }
    edges = [("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    for k in np.unique(d1):
        nodes[f"fc1.d{k}"] = nir.Linear(np.where(d1 == k, w1, 0.0))
        nodes[f"fc1.d{k}.delay"] = nir.Delay(np.full(n_hid, k * sim_nets.DT))
        edges += [("input", f"fc1.d{k}"), (f"fc1.d{k}", f"fc1.d{k}.delay"), (f"fc1.d{k}.delay", "lif1")]
    x = (rng.random((25, 2, n_in)) < 0.3).astype(np.float64)
    cpu, gpu = _both(sim_nets.graph(nodes, edges), x, record=["lif1"])
    _assert_same(cpu, gpu)


def test_conv_pool(sim_nets):
    rng = np.random.default_rng(12)
    nodes = {
        "input": nir.Input(np.array([2, 6, 6])),
        "conv": nir.Conv2d((6, 6), rng.normal(0, 0.7, (3, 2, 3, 3)), 1, 1, 1, 1, rng.normal(0, 0.1, 3)),
        "if1": nir.IF(
            r=np.full((3, 6, 6), 1 / sim_nets.DT), v_threshold=np.ones((3, 6, 6)), v_reset=np.zeros((3, 6, 6))
        ),
        "pool": nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "flat": nir.Flatten({"input": np.array([3, 3, 3])}, 0),
        "fc": nir.Linear(rng.normal(0.2, 0.5, (4, 27))),
        "lif": sim_nets.lif_node(4, 3.0),
        "output": nir.Output(np.array([4])),
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
    x = (rng.random((12, 2, 2, 6, 6)) < 0.3).astype(np.float64)
    cpu, gpu = _both(sim_nets.graph(nodes, edges), x, record=["if1"])
    _assert_same(cpu, gpu)


def test_network_currents_refractory_recurrent():
    net = Network(dt=1e-3, seed=3)
    net.poisson("in", 10, 200.0)
    net.lif("h", 12, tau_m=5e-3, tau_syn=(2e-3, 4e-3), refractory=2e-3, v_th=0.8)
    net.connect("in", "h", p=0.5, weight=0.9, delay=0)
    net.connect("h", "h", p=0.3, weight=-0.4, delay=lambda rng, n: rng.integers(1, 4, n), receptor=1)
    x = net.inputs(40, 2, seed=1)
    cpu = net.simulator(backend="numba", dtype=np.float64, record=["h"]).run(x, steps=40)
    gpu = net.simulator(backend="cuda", dtype=np.float64, record=["h"]).run(x, steps=40)
    _assert_same(cpu, gpu)
