"""Round trips: snnlab model -> NIR -> file -> model gives identical outputs."""

from __future__ import annotations

import math

import nir
import numpy as np
import pytest
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.ir import from_nir, load, save, to_nir

from .conftest import DT, mlp, spikes

NEURONS = {
    "lif": lambda: snn.LIF(tau=3.0),
    "lif_soft": lambda: snn.LIF(tau=2.0, v_reset=None),
    "lif_no_decay_input": lambda: snn.LIF(tau=4.0, decay_input=False, v_threshold=1.5),
    "if": lambda: snn.IF(v_threshold=1.0),
    "if_soft": lambda: snn.IF(v_reset=None),
    "plif": lambda: snn.PLIF(init_tau=2.7),
    "cuba_lif": lambda: snn.CubaLIF(tau_syn=2.0, tau_mem=3.0, r=1.5, w_in=2.0),
    "cuba_lif_soft": lambda: snn.CubaLIF(tau_syn=2.0, tau_mem=5.0, v_reset=None),
}


def _through_file(model: nn.Module, tmp_path, **kw) -> nn.Module:
    path = save(to_nir(model, DT, **kw), tmp_path / "model.nir")
    return from_nir(path)


@pytest.mark.parametrize("kind", sorted(NEURONS))
def test_mlp_round_trip_is_exact(kind, tmp_path):
    model = mlp(NEURONS[kind](), snn.LI(tau=2.0))
    back = _through_file(model, tmp_path)
    x = spikes(12, 4, 6)
    hidden = model[:2](x)
    assert hidden.sum() > 0, "the hidden layer must fire for the test to mean anything"
    assert torch.equal(back(x), model(x))


def test_li_readout_decay_input_false_and_spiking_readout(tmp_path):
    model = mlp(snn.LIF(tau=2.0), snn.LI(tau=3.0, decay_input=False, v_reset=0.25))
    assert torch.equal(_through_file(model, tmp_path)(spikes(10, 2, 6)), model(spikes(10, 2, 6)))
    spiking = mlp(snn.LIF(tau=2.0), snn.LIF(tau=2.0, v_threshold=0.5))
    assert torch.equal(_through_file(spiking, tmp_path)(spikes(10, 2, 6)), spiking(spikes(10, 2, 6)))


def test_node_fields_follow_the_convention():
    model = mlp(snn.LIF(tau=4.0, decay_input=False, v_reset=None), snn.LI(tau=2.0))
    graph = to_nir(model, DT)
    lif, li = graph.nodes["1"], graph.nodes["3"]
    assert isinstance(lif, nir.LIF) and isinstance(li, nir.LI)
    assert np.allclose(lif.tau, 4.0 * DT) and np.allclose(lif.r, 4.0)
    assert lif.metadata["reset_mode"] == "subtract" and np.all(lif.v_reset == 0) and np.all(lif.v_leak == 0)
    assert np.allclose(li.tau, 2.0 * DT) and np.allclose(li.r, 1.0)
    assert graph.metadata["dt"] == DT and graph.metadata["time_unit"] == "s" and graph.metadata["writer"] == "snnlab"
    assert "snnlab_version" in graph.metadata
    if_graph = to_nir(mlp(snn.IF(), snn.LI()), DT)
    assert np.allclose(if_graph.nodes["1"].r, 1.0 / DT) and if_graph.nodes["1"].metadata["reset_mode"] == "zero"


def test_readout_lif_with_huge_threshold_exports_as_li(tmp_path):
    model = mlp(snn.LIF(tau=2.0), snn.LIF(tau=2.0, v_threshold=1e9, store_v_seq=True))
    graph = to_nir(model, DT)
    assert isinstance(graph.nodes["3"], nir.LI)
    back = _through_file(model, tmp_path)
    assert torch.equal(back(spikes(8, 2, 6)), model(spikes(8, 2, 6)))


def test_plif_keeps_its_learned_parameter(tmp_path):
    model = mlp(snn.PLIF(init_tau=2.0), snn.LI(tau=2.0))
    with torch.no_grad():
        model[1].w.fill_(0.3)
    back = _through_file(model, tmp_path)
    assert isinstance(back[1], snn.PLIF) and float(back[1].w.detach()) == pytest.approx(0.3)
    node = to_nir(model, DT).nodes["1"]
    assert np.allclose(node.tau, (1 + math.exp(-0.3)) * DT)


def _conv_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        snn.TimeDistributed(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4)),
        snn.LIF(tau=2.0),
        snn.TimeDistributed(nn.AvgPool2d(2)),
        snn.TimeDistributed(nn.Conv2d(4, 4, 3, stride=2, bias=False)),
        snn.IF(),
        snn.TimeDistributed(nn.AvgPool2d(2, divisor_override=1)),
        snn.Flatten(),
        snn.SeqDropout(0.3),
        snn.TimeDistributed(nn.Linear(4, 5)),
        snn.LI(tau=2.0),
    )
    bn = model[0].module[1]
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 2.0)
        model[0].module[0].weight.mul_(3.0)
    return model.eval()


def test_conv_round_trip_folds_batchnorm_and_keeps_pooling(tmp_path):
    model = _conv_model()
    graph = to_nir(model, DT, input_shape=(2, 10, 10))
    kinds = [type(graph.nodes[n]).__name__ for n in ("0.0", "2", "3", "5", "6", "8")]
    assert kinds == ["Conv2d", "AvgPool2d", "Conv2d", "SumPool2d", "Flatten", "Affine"]
    assert not any("BatchNorm" in type(n).__name__ for n in graph.nodes.values())
    back = _through_file(model, tmp_path, input_shape=(2, 10, 10))
    x = spikes(6, 3, 2, 10, 10)
    torch.testing.assert_close(back(x), model(x), rtol=1e-5, atol=1e-5)


def test_graph_written_by_other_importers_round_trips_again(tmp_path):
    model = _conv_model()
    once = from_nir(to_nir(model, DT, input_shape=(2, 10, 10)))
    twice = from_nir(to_nir(once, DT, input_shape=(2, 10, 10)))
    x = spikes(5, 2, 2, 10, 10)
    assert torch.equal(once(x), twice(x))


def test_save_and_load_keep_fields_and_metadata(tmp_path):
    graph = to_nir(mlp(snn.LIF(tau=2.0, v_reset=None), snn.LI()), DT)
    again = load(save(graph, tmp_path / "sub" / "g.nir"))
    assert set(again.nodes) == set(graph.nodes) and sorted(again.edges) == sorted(graph.edges)
    assert again.metadata["writer"] == "snnlab" and again.nodes["1"].metadata["reset_mode"] == "subtract"
    np.testing.assert_array_equal(again.nodes["0"].weight, graph.nodes["0"].weight)
