"""Clear errors for bad graphs, and the ``snnlab simulate`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import nir
import numpy as np
import pytest

from snnlab.errors import GraphError, ShapeError
from snnlab.sim import Simulator


def _one_layer(sim_nets, neuron=None, delay=None, metadata=None):
    nodes = {
        "input": nir.Input(np.array([3])),
        "fc": nir.Linear(np.ones((2, 3))),
        "lif": neuron or sim_nets.lif_node(2, 4.0),
        "output": nir.Output(np.array([2])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if delay is not None:
        nodes["d"] = nir.Delay(np.asarray(delay, np.float64))
        edges = [("input", "fc"), ("fc", "d"), ("d", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes, edges, metadata=metadata if metadata is not None else {"dt": sim_nets.DT})


def test_missing_dt_is_an_error(sim_nets):
    with pytest.raises(GraphError, match="dt="):
        Simulator(_one_layer(sim_nets, metadata={}))
    assert Simulator(_one_layer(sim_nets, metadata={}), dt=sim_nets.DT).dt == sim_nets.DT


def test_negative_and_fractional_delays(sim_nets):
    with pytest.raises(GraphError, match="negative"):
        Simulator(_one_layer(sim_nets, delay=[-1e-3, 0.0]))
    with pytest.raises(GraphError, match="not an integer number of steps"):
        Simulator(_one_layer(sim_nets, delay=[1.5e-3, 0.0]))


def test_dt_larger_than_tau(sim_nets):
    lif = nir.LIF(tau=np.full(2, 0.5e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    with pytest.raises(GraphError, match="tau"):
        Simulator(_one_layer(sim_nets, neuron=lif))


def test_shape_mismatch_names_the_edge(sim_nets):
    g = _one_layer(sim_nets)
    g.nodes["fc"] = nir.Linear(np.ones((2, 4)))
    with pytest.raises(ShapeError, match="fc"):
        Simulator(g)


def test_unsupported_node_lists_supported(sim_nets):
    class Weird:
        metadata: dict = {}

    g = _one_layer(sim_nets)
    g.nodes["fc"] = Weird()
    with pytest.raises(GraphError, match="supported: .*LIF"):
        Simulator(g)


def test_cli_writes_spikes_and_counts(sim_nets, tmp_path):
    rng = np.random.default_rng(0)
    g, ref = sim_nets.mlp(rng)
    path = tmp_path / "model.nir"
    nir.write(str(path), g)
    x = (rng.random((20, 2, 12)) < 0.3).astype(np.float64)
    np.savez(tmp_path / "input.npz", x=x)
    import argparse

    from snnlab.commands import simulate

    args = argparse.Namespace(target=str(tmp_path), input=None, steps=None, dt=None, out=None, backend="auto")
    assert simulate.run(args) == 0
    spikes = np.load(tmp_path / "sim" / "spikes.npz")["spikes_output"]
    dense = np.zeros((20, 2, 5))
    dense[spikes[:, 0], spikes[:, 1], spikes[:, 2]] = 1
    np.testing.assert_array_equal(dense, ref(x))
    counts = json.loads((tmp_path / "sim" / "counts.json").read_text())
    assert counts["counts"]["synaptic_events"]["fc0"] > 0


def test_cli_prints_one_line_error(sim_nets, tmp_path):
    path = tmp_path / "nodt.nir"
    nir.write(str(path), _one_layer(sim_nets, metadata={}))
    proc = subprocess.run(
        [sys.executable, "-m", "snnlab.cli", "simulate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "dt" in lines[0]


def test_cli_event_file_with_sample_ids(sim_nets, tmp_path):
    """`snnlab simulate` bins an events file (t in s, x, y, p, sample) per sample and per step."""
    rng = np.random.default_rng(9)
    nodes = {
        "input": nir.Input(np.array([2, 4, 5])),
        "flat": nir.Flatten({"input": np.array([2, 4, 5])}, 0),
        "fc": nir.Linear(rng.normal(0.4, 0.5, (6, 40))),
        "lif": sim_nets.lif_node(6, 2.0),
        "output": nir.Output(np.array([6])),
    }
    edges = [("input", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "output")]
    nir.write(str(tmp_path / "m.nir"), sim_nets.graph(nodes, edges))
    n, steps = 300, 20
    ev = {
        "t": rng.uniform(0, steps * sim_nets.DT, n),
        "x": rng.integers(0, 5, n),
        "y": rng.integers(0, 4, n),
        "p": rng.integers(0, 2, n),
        "sample": rng.integers(0, 3, n),
    }
    np.savez(tmp_path / "ev.npz", **ev)
    frames = np.zeros((steps, 3, 2, 4, 5))
    np.add.at(frames, (np.floor(ev["t"] / sim_nets.DT + 1e-9).astype(int), ev["sample"], ev["p"], ev["y"], ev["x"]), 1)
    want = Simulator(sim_nets.graph(nodes, edges)).run(frames).spikes["output"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snnlab.cli",
            "simulate",
            str(tmp_path / "m.nir"),
            "--input",
            str(tmp_path / "ev.npz"),
            "--steps",
            str(steps),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = np.load(tmp_path / "o" / "spikes.npz")["spikes_output"]
    assert len(want) > 10 and set(got[:, 1]) == {0, 1, 2}
    np.testing.assert_array_equal(got, want)
