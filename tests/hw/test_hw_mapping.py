"""Mapping onto cores, quantisation, limits, unsupported graphs and chip descriptors."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import yaml

from snnlab.errors import GraphError, MappingError
from snnlab.hw import accuracy_change, descriptor, graph_layers, map_graph, quantise, write_descriptor
from snnlab.hw.profiles import data_file, profile_from_dict, validate

from .conftest import mlp_graph


def test_fan_in_and_synapses_read_from_graph(graph):
    layers = graph_layers(graph)
    assert [l.name for l in layers.layers] == ["lif1", "li"]
    assert layers.layer("lif1").fan_in == 700 and layers.fan_out("input") == 128
    assert layers.layer("li").projections[0].n_synapses == 128 * 20


def test_split_across_cores_and_utilisation():
    mapping = map_graph(mlp_graph(700, 3000, 20), "spinnaker2")
    assert len(mapping.cores_for("lif1")) >= 3  # 3000 neurons, 1024 per core
    assert sum(c.neurons for c in mapping.cores) == 3020
    assert all(0 < c.utilisation <= 1 and c.synapses <= c.synapse_capacity for c in mapping.cores)


def test_small_layers_are_packed():
    mapping = map_graph(mlp_graph(64, 100, 10), "loihi")
    assert len(mapping.cores) == 1 and mapping.cores_for("lif1") == mapping.cores_for("li") == [0]


def test_limit_messages_say_which_limit_and_by_how_much(graph):
    with pytest.raises(MappingError, match=r"layer 'lif1' needs 700 fan-in, truenorth allows 256 \(\+173%\)"):
        map_graph(graph, "truenorth")
    with pytest.raises(MappingError, match="LIF neuron; speck supports"):
        map_graph(graph, "speck")
    with pytest.raises(MappingError, match=r"'input' needs 700 input channels, xylo_audio2 allows 16"):
        map_graph(graph, "xylo_audio2")


def test_too_many_cores():
    raw = yaml.safe_load(data_file("loihi.yaml").read_text())
    raw["capacity"]["cores_per_chip"]["value"] = 2
    small = profile_from_dict(raw, "small.yaml")
    with pytest.raises(MappingError, match=r"'lif1' needs 3 cores in total .*loihi allows 2 \(\+50%\)"):
        map_graph(mlp_graph(64, 3000, 10), small)


def test_speck_rejects_dense_layer_over_core_memory():
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(np.array([700])),
        "fc": nir.Linear(rng.normal(size=(128, 700))),
        "n": nir.IF(np.ones(128), np.ones(128), np.zeros(128)),
        "output": nir.Output(np.array([128])),
    }
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "n"), ("n", "output")])
    with pytest.raises(MappingError, match=r"'n' needs 89600 synapses in one core, speck allows 65536 \(\+37%\)"):
        map_graph(g, "speck")


def test_delays_count_against_chip_limit():
    g = mlp_graph(32, 16, 4, delays=(0, 3, 20))
    layers = graph_layers(g)
    assert sorted(p.delay_steps for p in layers.layer("lif1").projections) == [0, 3, 20]
    assert map_graph(g, "loihi").cores_for("lif1") == [0]
    with pytest.raises(MappingError, match=r"needs 20 delay steps, spinnaker2 allows 16"):
        map_graph(g, "spinnaker2")


def test_unsupported_nodes():
    g = mlp_graph()
    g.nodes["thr"] = nir.Threshold(np.ones(20))
    with pytest.raises(GraphError, match="'thr' has unsupported type Threshold; supported:"):
        map_graph(g, "loihi")
    nested = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([4])), "sub": mlp_graph(4, 4, 2), "output": nir.Output(np.array([2]))},
        edges=[("input", "sub"), ("sub", "output")],
        type_check=False,
    )
    with pytest.raises(GraphError, match="nested NIRGraph"):
        graph_layers(nested)


def test_quantisation_error_shrinks_with_bits():
    w = np.random.default_rng(1).normal(size=(50, 40))
    errors = [quantise([w], b)[1].relative_error for b in (2, 4, 8, 16)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3
    ints, info = quantise([w], 8)
    assert np.abs(ints[0]).max() == 127 and info.max_error <= info.scale / 2 + 1e-12


def test_accuracy_change_uses_quantised_weights(graph):
    def eval_fn(g):  # "accuracy" that depends on the weights: fraction of fc1 weights unchanged
        return float(np.mean(g.nodes["fc1"].weight == graph.nodes["fc1"].weight))

    result = accuracy_change(graph, "truenorth", eval_fn)
    assert result["before"] == 1.0 and result["after"] < 0.1 and result["bits"] == 3


def test_descriptor_valid_and_written(tmp_path):
    g = mlp_graph(32, 16, 4, delays=(1, 2))
    data = descriptor(g, "loihi")
    validate(data, "descriptor", schema="descriptor.schema.json")
    lif1 = data["layers"][0]
    assert {s["delay_steps"] for s in lif1["synapses"]} == {1, 2}
    assert all(abs(v) <= 127 for s in lif1["synapses"] for v in s["weights"])
    path = write_descriptor(g, "loihi", tmp_path / "hw" / "loihi.json")
    assert json.loads(path.read_text())["profile"] == "loihi"
    broken = dict(data, version=7)
    with pytest.raises(ValueError, match="version"):
        validate(broken, "descriptor", schema="descriptor.schema.json")


def test_conv_graph_maps_on_speck():
    w = np.random.default_rng(0).normal(size=(8, 2, 3, 3))
    nodes = {
        "input": nir.Input(np.array([2, 16, 16])),
        "conv": nir.Conv2d((16, 16), w, 1, 1, 1, 1, np.zeros(8)),
        "n": nir.IF(np.ones((8, 16, 16)), np.ones((8, 16, 16)), np.zeros((8, 16, 16))),
        "output": nir.Output(np.array([8, 16, 16])),
    }
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "conv"), ("conv", "n"), ("n", "output")])
    layer = graph_layers(g).layer("n")
    assert layer.fan_in == 18 and layer.n_neurons == 2048
    mapping = map_graph(g, "speck")
    assert len(mapping.cores) == 1 and mapping.cores[0].synapses == 144  # kernels stored once
    with pytest.raises(MappingError, match="convolutional; odin"):
        map_graph(g, "odin")
