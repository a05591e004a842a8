"""brian2 as an outside oracle: the same LIF network with per-synapse delays, the same spikes.

The network (inputs from a spike array, a recurrent LIF population, integer delays) runs in
brian2 (separate venv ``.venv-brian2``, subprocess, network passed as ``.npz``), through
snnlab's :class:`~snnlab.sim.Network` and as a NIR graph of ``Linear -> Delay`` groups.

Mapping (see ``benchmarks/brian2_network.py``): brian2 applies ``on_pre`` after the threshold
of the step, so a brian2 delay of ``d`` steps is a Network delay of ``d + 1``; in the NIR
graph an input group has ``Delay = d + 1`` steps, a recurrent group ``Delay = d`` (the
recurrent edge adds the other step). ``dt = 2**-10`` s and ``tau = 8 dt`` make ``dt/tau``
exact, ``r = 8`` makes ``a_in = 1`` and weights are multiples of 1/32, so every sum is exact
and the spike (neuron, step) pairs must be equal.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nir
import numpy as np
import pytest

from snnlab.sim import Network, Simulator

ROOT = Path(__file__).resolve().parents[2]
BRIAN2 = ROOT / ".venv-brian2" / "bin" / "python"
SCRIPT = ROOT / "benchmarks" / "brian2_network.py"
DT, TAU, R, STEPS, N_IN, N = 2.0**-10, 8 * 2.0**-10, 8.0, 200, 20, 40

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(
        not BRIAN2.exists(),
        reason=".venv-brian2 is absent: python3 -m venv .venv-brian2 && .venv-brian2/bin/pip install brian2 'numpy<2'",
    ),
]


def _synapses(rng: np.random.Generator, n_pre: int, p: float, lo: int, hi: int, dmax: int, same: bool) -> dict:
    pre, post = np.nonzero(rng.random((n_pre, N)) < p)
    if same:
        keep = pre != post
        pre, post = pre[keep], post[keep]
    return {
        "pre": pre,
        "post": post,
        "w": rng.integers(lo, hi + 1, pre.size) / 32.0,
        "delay": rng.integers(0, dmax + 1, pre.size),
    }


def _config(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.random((STEPS, N_IN)) < 0.05
    in_step, in_idx = np.nonzero(x)
    syn = {"inp": _synapses(rng, N_IN, 0.3, 8, 24, 3, False), "rec": _synapses(rng, N, 0.15, -16, 12, 4, True)}
    cfg = {
        "steps": STEPS,
        "dt": DT,
        "n_in": N_IN,
        "n": N,
        "in_step": in_step,
        "in_idx": in_idx,
        "v_rest": 0.0,
        "v_th": 1.0,
        "v_reset": 0.0,
        "a_leak": DT / TAU,
        "a_in": DT / TAU * R,
    }
    cfg.update({f"{k}_{f}": v for k, s in syn.items() for f, v in s.items()})
    return cfg


def _pairs(idx: np.ndarray, step: np.ndarray) -> set:
    return set(zip(np.asarray(idx).tolist(), np.asarray(step).tolist()))


def _brian2(cfg: dict, tmp_path: Path) -> set:
    np.savez(tmp_path / "net.npz", **cfg)
    proc = subprocess.run(
        [str(BRIAN2), str(SCRIPT), str(tmp_path / "net.npz"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    return _pairs(out["idx"], out["step"])


def _network(cfg: dict) -> set:
    net = Network(DT)
    net.spike_array("in", N_IN, cfg["in_step"], cfg["in_idx"])
    net.lif("h", N, tau_m=TAU, r=R, v_th=1.0, v_reset=0.0)
    for name, src in (("inp", "in"), ("rec", "h")):
        net.connect(
            src,
            "h",
            "explicit",
            pre=cfg[f"{name}_pre"],
            post=cfg[f"{name}_post"],
            weight=cfg[f"{name}_w"],
            delay=cfg[f"{name}_delay"] + 1,
        )
    res = net.run(STEPS, dtype=np.float64, record=["h"])
    return _pairs(res.spikes["h"][:, 2], res.spikes["h"][:, 0])


def _nir_graph(cfg: dict) -> nir.NIRGraph:
    lif = nir.LIF(tau=np.full(N, TAU), r=np.full(N, R), v_leak=np.zeros(N), v_threshold=np.ones(N), v_reset=np.zeros(N))
    lif.metadata = {"reset_mode": "zero"}
    nodes = {"input": nir.Input(np.array([N_IN])), "lif": lif, "output": nir.Output(np.array([N]))}
    edges = [("lif", "output")]
    for name, src, n_pre, shift in (("inp", "input", N_IN, 1), ("rec", "lif", N, 0)):
        pre, post, w, d = (cfg[f"{name}_{f}"] for f in ("pre", "post", "w", "delay"))
        for k in np.unique(d + shift):
            sel = d + shift == k
            weight = np.zeros((N, n_pre))
            weight[post[sel], pre[sel]] = w[sel]
            nodes[f"{name}.d{k}"] = nir.Linear(weight)
            nodes[f"{name}.d{k}.delay"] = nir.Delay(np.full(N, k * DT))
            edges += [(src, f"{name}.d{k}"), (f"{name}.d{k}", f"{name}.d{k}.delay"), (f"{name}.d{k}.delay", "lif")]
    return nir.NIRGraph(nodes, edges, metadata={"dt": DT})


def test_brian2_network_and_nir_delay_groups_fire_the_same_spikes(tmp_path):
    cfg = _config()
    want = _brian2(cfg, tmp_path)
    assert 100 < len(want) < 0.5 * N * STEPS, f"firing should be moderate, got {len(want)} spikes"
    assert _network(cfg) == want
    x = np.zeros((STEPS, 1, N_IN))
    x[cfg["in_step"], 0, cfg["in_idx"]] = 1.0
    res = Simulator(_nir_graph(cfg)).run(x)
    assert _pairs(res.spikes["output"][:, 2], res.spikes["output"][:, 0]) == want


def _coba_config(n: int = 120, n_exc: int = 96, p: float = 0.1, steps: int = 1500, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    pre, post = np.nonzero(rng.random((n, n)) < p)
    exc = pre < n_exc
    cfg = {"steps": steps, "dt": 1e-4, "n": n, "n_exc": n_exc, "v0": -55e-3 + 5e-3 * rng.standard_normal(n)}
    cfg.update(exc_pre=pre[exc], exc_post=post[exc], inh_pre=pre[~exc], inh_post=post[~exc])
    return cfg


def test_conductance_synapses_match_brian2_coba(tmp_path):
    """brian2's COBA equations (Euler, its own arithmetic order) against snnlab's conductance receptors."""
    cfg = _coba_config()
    np.savez(tmp_path / "coba.npz", **cfg)
    script = ROOT / "benchmarks" / "brian2_coba.py"
    proc = subprocess.run(
        [str(BRIAN2), str(script), str(tmp_path / "coba.npz"), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    net = Network(cfg["dt"])
    net.lif(
        "p", cfg["n"], tau_m=20e-3, v_rest=-40e-3, v_th=-50e-3, v_reset=-60e-3, refractory=5e-3,
        tau_syn=(5e-3, 10e-3), e_rev=(0.0, -80e-3), v_init=cfg["v0"],
    )  # fmt: skip
    for name, w, rcp in (("exc", 0.6, 0), ("inh", 6.7, 1)):
        net.connect("p", "p", "explicit", pre=cfg[f"{name}_pre"], post=cfg[f"{name}_post"], weight=w, receptor=rcp)
    res = net.run(cfg["steps"], dtype=np.float64, record=["p"], record_v=["p"])
    want = _pairs(out["idx"], out["step"])
    assert 200 < len(want), f"the network should fire, got {len(want)} spikes"
    assert _pairs(res.spikes["p"][:, 2], res.spikes["p"][:, 0]) == want
    # brian2 records v at the start of a step: its trace at step s is snnlab's v after step s - 1
    np.testing.assert_allclose(res.v["p"][:-1, 0], out["v"][1:], rtol=0, atol=1e-9)
