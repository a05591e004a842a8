"""Bad NIR graphs on the command line: one line naming the node and value, exit status 2.

The simulator (``snnlab simulate``) and the hardware backend (``snnlab export --to <chip>``)
read graphs through the one flattened-graph type, so they reject the same graphs the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import nir
import numpy as np
import pytest

from snnlab.cli import main

DT = 1e-3


def _lif(n: int) -> nir.LIF:
    return nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))


def _graph(delay=None, extra=None, metadata=None) -> nir.NIRGraph:
    nodes = {
        "input": nir.Input(np.array([3])),
        "fc": nir.Linear(np.ones((2, 3))),
        "lif": _lif(2),
        "output": nir.Output(np.array([2])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if delay is not None:
        nodes["d"] = nir.Delay(np.asarray(delay, np.float64))
        edges = [("input", "fc"), ("fc", "d"), ("d", "lif"), ("lif", "output")]
    nodes.update(extra or {})
    return nir.NIRGraph(nodes, edges, metadata={"dt": DT} if metadata is None else metadata, type_check=False)


def _nested() -> nir.NIRGraph:
    return nir.NIRGraph(
        {"input": nir.Input(np.array([3])), "sub": _graph(), "output": nir.Output(np.array([2]))},
        [("input", "sub"), ("sub", "output")],
        metadata={"dt": DT},
        type_check=False,
    )


SIM = ["simulate", "{path}", "--steps", "3"]
HW = ["export", "{path}", "--to", "loihi", "--out", "{out}"]
CASES = [
    (
        "half-step delay, sim",
        _graph(delay=[1.5e-3, 0.0]),
        SIM,
        r"node 'd': field delay 0.0015 s is 1.5 steps of dt=0.001 s, not an integer number of steps",
    ),
    (
        "half-step delay, hw",
        _graph(delay=[1.5e-3, 0.0]),
        HW,
        r"node 'd': field delay 0.0015 s is 1.5 steps of dt=0.001 s, not an integer number of steps",
    ),
    ("negative delay, sim", _graph(delay=[-2e-3, 0.0]), SIM, r"node 'd': field delay has negative values"),
    ("negative delay, hw", _graph(delay=[-2e-3, 0.0]), HW, r"node 'd': field delay has negative values"),
    ("delay without dt, hw", _graph(delay=[1e-3, 0.0], metadata={}), HW, r"Delay node 'd' needs a time step"),
    ("no dt, sim", _graph(metadata={}), SIM, r"the simulator needs a time step.*--dt"),
    (
        "Threshold, hw",
        _graph(extra={"thr": nir.Threshold(np.ones(2))}),
        HW,
        r"node 'thr' has unsupported type Threshold; supported: .*LIF.*\(by hw\)",
    ),
    ("dt contradicts --dt, sim", _graph(), SIM + ["--dt", "2e-3"], r"dt=0.002 contradicts the graph metadata dt=0.001"),
    ("nested graph, hw", _nested(), HW, r"node 'sub' is a nested NIRGraph; hw reads flat graphs only"),
]


@pytest.mark.parametrize("graph, argv, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_graph_is_one_line_exit_2(tmp_path: Path, capsys, graph, argv, message):
    path = tmp_path / "bad.nir"
    nir.write(str(path), graph)
    args = [a.format(path=path, out=tmp_path / "out.json") for a in argv]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert re.search(message, lines[0]), lines[0]
