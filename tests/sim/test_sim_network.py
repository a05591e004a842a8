"""Direct API, peer graphs, streaming, recording and the activity profile."""

from __future__ import annotations

import numpy as np
import pytest

from snnlab.sim import Network, Simulator, events_to_frames, vogels_abbott_coba, vogels_abbott_cuba


def test_peer_graphs_load_and_run(shared_data):
    norse = Simulator(shared_data / "peer_lif_norse.nir", dt=1e-3)
    x = np.zeros((20, 1, 1))
    x[:, 0, 0] = 1.0
    assert norse.run(x).dense().sum() > 0
    sinabs = Simulator(shared_data / "peer_cnn_sinabs.nir", dt=1.0, record=["6"])
    frames = (np.random.default_rng(0).random((8, 2, 2, 34, 34)) < 0.2).astype(np.float64)
    res = sinabs.run(frames)
    ref = Simulator(shared_data / "peer_cnn_sinabs.nir", dt=1.0, backend="reference", record=["6"]).run(frames)
    np.testing.assert_array_equal(res.spikes["6"], ref.spikes["6"])
    assert res.spikes["6"].shape[0] > 0


def test_streaming_equals_run(sim_nets):
    rng = np.random.default_rng(1)
    g, ref = sim_nets.mlp(rng)
    x = (rng.random((25, 2, 12)) < 0.3).astype(np.float64)
    sim = Simulator(g)
    sim.reset(2)
    steps = np.stack([sim.step(x[t]) for t in range(25)])
    np.testing.assert_array_equal(steps, ref(x))


def test_membrane_record_and_profile(sim_nets):
    rng = np.random.default_rng(2)
    g, _ = sim_nets.mlp(rng)
    x = (rng.random((30, 3, 12)) < 0.3).astype(np.float64)
    res = Simulator(g, record=["lif0"], record_v=["lif0"]).run(x)
    assert res.v["lif0"].shape == (30, 3, 20)
    prof = res.activity_profile()
    assert prof.source == "event" and prof.samples == 3 and prof.timesteps == 30
    fc1 = prof.layer("fc1")
    assert fc1.acs == pytest.approx(res.spikes["lif0"].shape[0] * 16)  # each spike reaches 16 neurons
    assert fc1.macs == 0 and prof.layer("fc0").acs == pytest.approx(x.sum() * 20)
    assert prof.layer("lif0").spikes == res.spikes["lif0"].shape[0]


def test_events_to_frames():
    ev = {"t": np.array([0, 2, 2]), "x": np.array([1, 0, 3]), "y": np.array([0, 1, 2]), "p": np.array([1, 0, 0])}
    fr = events_to_frames(ev, (2, 3, 4), steps=3)
    assert fr.shape == (3, 1, 2, 3, 4) and fr.sum() == 3 and fr[2, 0, 0, 2, 3] == 1


def test_network_delays_and_refractory():
    net = Network(dt=1e-3)
    net.spike_array("src", 1, steps=[0, 1, 2, 3, 4, 5], neurons=[0] * 6)
    net.lif("a", 1, tau_m=10e-3, v_th=0.5, refractory=3e-3, r=10.0)
    net.connect("src", "a", "one_to_one", weight=1.0, delay=2)
    res = net.run(10, dtype=np.float64, record=["a"])
    times = res.spikes["a"][:, 0].tolist()
    assert times == [2, 5]  # arrives at t+2; refractory holds v for 2 steps after the spike at 2


def test_network_matches_dense_loop():
    """Fixed-probability recurrent network vs a dense numpy loop of the module equations."""
    net = Network(dt=1e-3, seed=3)
    net.poisson("in", 20, 200.0)
    net.lif("h", 30, tau_m=5e-3, v_th=1.0, tau_syn=(2e-3,))
    net.connect("in", "h", p=0.3, weight=0.8, delay=0)
    net.connect(
        "h", "h", p=0.2, weight=lambda rng, n: rng.normal(0, 0.5, n), delay=lambda rng, n: rng.integers(1, 4, n)
    )
    x = net.inputs(60, 2, seed=5)[0]
    res = net.simulator(dtype=np.float64, record=["h"]).run([x])
    (q_in, q_rec) = net.plan.projections
    w_in, w_rec = np.zeros((20, 30)), np.zeros((3, 4, 30, 30))
    for q, w in ((q_in, w_in), (q_rec, None)):
        for i in range(q.indptr.size - 1):
            for s in range(q.indptr[i], q.indptr[i + 1]):
                if w is not None:
                    w[i, q.indices[s]] += q.weights[s]
                else:
                    w_rec[0, q.delays[s], i, q.indices[s]] += q.weights[s]
    v, cur, hist, out = np.zeros((2, 30)), np.zeros((2, 30)), [], []
    for t in range(60):
        inp = x[t] @ w_in + sum(hist[t - d] @ w_rec[0, d] for d in (1, 2, 3) if t - d >= 0)
        cur = 0.5 * cur + inp  # 1 - dt/tau_syn
        v = v + 0.2 * (0 - v + cur)
        s = v >= 1.0
        v = np.where(s, 0.0, v)
        hist.append(s.astype(float))
        out.append(s)
    np.testing.assert_array_equal(res.dense("h"), np.stack(out))
    assert np.stack(out).sum() > 10


def test_cuba_runs_and_fires():
    net = vogels_abbott_cuba(n=400, p=0.1)
    res = net.run(2000, record=["exc"])
    rate = res.counts["spikes"]["exc"] / 320 / 0.2
    assert 0.5 < rate < 100
    assert net.reservoir("liquid", 50, p=0.2, v_th=1.0, tau_m=20e-3, delays=(1, 4)) == "liquid"


def test_conductance_receptor_pulls_towards_its_reversal_potential():
    """One spike into a conductance receptor: v moves by a_in * g * (e_rev - v), by hand."""
    dt, tau, tau_g = 1e-4, 20e-3, 5e-3
    net = Network(dt)
    net.spike_array("in", 1, [0], [0])
    net.lif("n", 2, tau_m=tau, v_rest=-0.06, v_th=1.0, v_reset=-0.06, tau_syn=(tau_g,), e_rev=(0.0,), v_init=-0.06)
    net.connect("in", "n", "all_to_all", weight=0.5, delay=1)
    res = net.run(3, dtype=np.float64, record_v=["n"])
    a, g1 = dt / tau, 0.5
    v1 = -0.06 + a * g1 * (0.0 + 0.06)  # step 1: the spike of step 0 arrives
    v2 = v1 + a * (-0.06 - v1) + a * g1 * (1 - dt / tau_g) * (0.0 - v1)
    np.testing.assert_allclose(res.v["n"][:, 0, 0], [-0.06, v1, v2], rtol=1e-12)


def test_coba_runs_and_fires():
    net = vogels_abbott_coba(n=400, p=0.1)
    res = net.run(1000, record=["exc"])
    rate = res.counts["spikes"]["exc"] / 320 / 0.1
    assert 1 < rate < 200
