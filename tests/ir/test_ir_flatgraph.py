"""The one flattened-graph type (snnlab.ir.graph): flattening, order, dt, delays, node table."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from snnlab.errors import GraphError
from snnlab.hw import graph_layers
from snnlab.ir import from_nir
from snnlab.ir.graph import DELAY_TOL, NODES, FlatGraph, Port, delay_steps, flat_graph, graph_dt, order_nodes, supported
from snnlab.sim import Simulator

from .conftest import DT, lif_node


def _chain(delay=None, metadata=None) -> nir.NIRGraph:
    """input(3) -> fc -> [d] -> lif -> output, dt 1 ms unless ``metadata`` says otherwise."""
    nodes = {
        "input": nir.Input(np.array([3])),
        "fc": nir.Linear(np.ones((2, 3))),
        "lif": lif_node(2),
        "output": nir.Output(np.array([2])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if delay is not None:
        nodes["d"] = nir.Delay(np.asarray(delay, np.float64))
        edges = [("input", "fc"), ("fc", "d"), ("d", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes, edges, metadata={"dt": DT} if metadata is None else metadata)


def _recurrent() -> nir.NIRGraph:
    nodes = {
        "input": nir.Input(np.array([3])),
        "fc": nir.Linear(np.ones((2, 3))),
        "lif": lif_node(2),
        "rec": nir.Linear(np.eye(2)),
        "output": nir.Output(np.array([2])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes, edges, metadata={"dt": DT})


def test_chain_is_ordered_with_shapes_and_dt():
    g = flat_graph(_chain(delay=[2e-3, 0.0]))
    assert isinstance(g, FlatGraph) and g.dt == DT
    assert g.order == ["input", "fc", "d", "lif", "output"] and g.back == set()
    assert g.inputs == ["input"] and g.outputs == ["output"]
    assert g.out_shape["fc"] == (2,) and g.in_shape["fc"] == (3,) and g.out_shape["output"] == (2,)
    np.testing.assert_array_equal(g.delay_steps("d"), [2, 0])
    assert g.role("d") == "delay" and g.role("lif") == "neuron" and g.preds("lif") == ["d"]


def test_recurrent_edge_is_a_back_edge():
    g = flat_graph(_recurrent())
    assert g.back == {("rec", "lif")}
    assert g.order.index("lif") < g.order.index("rec")


def test_nested_graph_is_inlined_with_ports():
    inner = _chain()
    outer = nir.NIRGraph(
        {"input": nir.Input(np.array([3])), "sub": inner, "output": nir.Output(np.array([2]))},
        [("input", "sub"), ("sub", "output")],
        metadata={"dt": DT},
        type_check=False,
    )
    g = flat_graph(outer)
    assert isinstance(g.nodes["sub.input"], Port) and g.is_identity("sub.output")
    assert ("input", "sub.input") in g.edges and ("sub.output", "output") in g.edges
    assert g.inputs == ["input"] and g.outputs == ["output"]
    flat = g.contracted()
    assert [n for n in flat.order] == ["input", "sub.fc", "sub.lif", "output"]
    assert flat.out_shape["sub.fc"] == (2,)
    with pytest.raises(GraphError, match="nested NIRGraph"):
        flat_graph(outer, reader="hw")


def test_order_nodes_rejects_unreachable_nodes():
    with pytest.raises(GraphError, match=r"\['island'\] cannot be reached"):
        order_nodes(["a", "b", "island"], [("a", "b")], ["a"])
    g = _chain()
    g.nodes["island"] = lif_node(2)
    with pytest.raises(GraphError, match="'island'.*cannot be reached"):
        flat_graph(g)


@pytest.mark.parametrize("steps", [0.0, 1.0, 7.0, 1e5])
def test_whole_delays_pass_also_in_float32(steps):
    for dtype in (np.float64, np.float32):
        node = nir.Delay(np.array([steps * DT], dtype))
        assert delay_steps(node, "d", DT).tolist() == [int(steps)]


@pytest.mark.parametrize("steps", [1.5, 0.5, 2.25, 3 + 10 * DELAY_TOL])
def test_fractional_delays_are_rejected_by_every_reader(steps):
    graph = _chain(delay=[steps * DT, 0.0])
    readers = [
        lambda: flat_graph(graph),
        lambda: Simulator(graph),
        lambda: from_nir(graph),
        lambda: graph_layers(graph),
    ]
    for read in readers:
        with pytest.raises(GraphError, match=rf"node 'd': field delay .* is {steps:g} steps .*not an integer"):
            read()


def test_negative_delay_and_missing_dt():
    with pytest.raises(GraphError, match="negative"):
        delay_steps(nir.Delay(np.array([-1e-3])), "d", DT)
    with pytest.raises(GraphError, match="Delay node 'd' needs a time step.*dt="):
        graph_layers(_chain(delay=[1e-3, 0.0], metadata={}))
    assert flat_graph(_chain(metadata={})).dt is None


def test_dt_rule():
    graph = _chain()
    assert graph_dt(graph) == DT and graph_dt(graph, DT * (1 + 1e-12)) == DT
    with pytest.raises(GraphError, match="contradicts"):
        graph_dt(graph, 2e-3)
    with pytest.raises(GraphError, match="positive"):
        graph_dt(_chain(metadata={}), -1.0)
    with pytest.raises(GraphError, match="not a number"):
        graph_dt(_chain(metadata={"dt": "fast"}))
    assert graph_dt(_chain(metadata={}), 5e-4) == 5e-4


def test_one_node_table_tells_each_reader():
    assert "Threshold" in supported("sim") and "Threshold" not in supported("hw")
    assert "NIRGraph" in supported("sim") and "NIRGraph" not in supported("hw")
    assert "Port" not in supported("sim")
    assert {k for k, v in NODES.items() if v.role == "neuron"} >= {"LIF", "IF", "LI", "CubaLIF", "I", "CubaLI"}
    graph = _chain()
    graph.nodes["lif"] = nir.Threshold(np.ones(2))
    assert flat_graph(graph, reader="sim").kind("lif") == "Threshold"
    for reader in ("hw", "from_nir"):
        with pytest.raises(GraphError, match=rf"'lif' has unsupported type Threshold; supported: .*\(by {reader}\)"):
            flat_graph(graph, reader=reader)


def test_from_nir_column_matches_the_neuron_records():
    """The table's from_nir neurons are exactly the kinds snnlab.ir.neurons can build."""
    from snnlab.ir import neurons

    table = {k for k in supported("from_nir") if NODES[k].role == "neuron"}
    assert table == set(neurons.NEURON_NODES)


def test_graph_readers_import_no_torch():
    """sim, hw and the graph type load without torch (and hw without analysis)."""
    import subprocess
    import sys

    code = (
        "import sys, snnlab.sim, snnlab.sim.check, snnlab.hw, snnlab.ir.graph\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('snnlab.analysis')]\n"
        "assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-800:]
