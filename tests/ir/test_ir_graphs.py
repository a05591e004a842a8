"""Graphs from elsewhere: peer files, delay groups, recurrent edges, registry models, errors."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import GraphError
from snnlab.ir import from_nir, save, to_nir
from snnlab.ir.delays import DelayBuffer, DelayGroupLinear
from snnlab.ir.executor import GraphExecutor

from .conftest import DT, lif_node, mlp, spikes


def _lif_reference(current: torch.Tensor, k: float, threshold: float) -> torch.Tensor:
    """Hand-written forward-Euler LIF with hard reset to 0: ``(T, B, N) -> spikes``."""
    v, out = torch.zeros_like(current[0]), []
    for i in current:
        h = v + k * (i - v)
        s = (h >= threshold).float()
        v = h * (1 - s)
        out.append(s)
    return torch.stack(out)


def test_norse_lif_graph_runs_with_the_given_dt(shared_data):
    model = from_nir(shared_data / "peer_lif_norse.nir", dt=1e-4)
    x = 0.5 * torch.ones(40, 2, 1)
    expected = _lif_reference(x, 1e-4 / 0.0025, 0.1)  # weight 1, bias 0, tau 2.5 ms, threshold 0.1
    assert expected.sum() > 0
    assert torch.equal(model(x), expected)


def test_norse_graph_without_dt_names_the_missing_field(shared_data):
    with pytest.raises(GraphError, match="dt"):
        from_nir(shared_data / "peer_lif_norse.nir")


def test_sinabs_cnn_graph_runs_as_integrate_and_fire(shared_data):
    graph = nir.read(str(shared_data / "peer_cnn_sinabs.nir"))
    model = from_nir(graph, dt=1.0)  # sinabs writes IF with r = 1: one unit of input per step at dt = 1
    x = spikes(6, 2, 2, 34, 34, p=0.3)
    out = model(x)
    assert out.shape == (6, 2, 10)
    conv = torch.nn.functional.conv2d(
        x.flatten(0, 1),
        torch.as_tensor(graph.nodes["0"].weight),
        torch.as_tensor(graph.nodes["0"].bias),
        stride=2,
        padding=1,
    )
    first = model[1](model[0](x))
    v, ref = torch.zeros_like(conv[:2]), []
    for c in conv.reshape(6, 2, *conv.shape[1:]):
        h = v + c
        s = (h >= 1.0).float()
        v, _ = h * (1 - s), ref.append(s)
    assert torch.equal(first, torch.stack(ref))


def test_delay_groups_rebuild_one_layer_with_exact_delays(delay_graph, tmp_path):
    graph, weight, delays = delay_graph
    model = from_nir(graph)
    layer = model[0]
    assert isinstance(layer, snn.DelayedLinear) and not layer.training
    assert torch.equal(layer.integer_delays(), torch.as_tensor(delays))
    x = torch.rand(7, 2, 4)
    ref = torch.zeros(7, 2, 3)
    for t in range(7):
        for o in range(3):
            for i in range(4):
                if t >= delays[o, i]:
                    ref[t, :, o] += float(weight[o, i]) * x[t - delays[o, i], :, i]
    torch.testing.assert_close(layer(x), ref, rtol=1e-6, atol=1e-6)


def test_delayed_linear_with_taps_and_bias_round_trips(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(snn.DelayedLinear(6, 5, max_delay=5, kernel_count=2, bias=True), snn.LI(tau=2.0)).eval()
    graph = to_nir(model, DT)
    groups = [n for n in graph.nodes if isinstance(graph.nodes[n], (nir.Linear, nir.Affine))]
    expected_steps = set(torch.unique(model[0].integer_delays()).tolist()) | {0}
    assert {graph.nodes[n].metadata["snnlab.delay_steps"] for n in groups} == expected_steps
    assert isinstance(graph.nodes["0.d0"], nir.Affine), "the bias has no delay: it rides on the d=0 group"
    back = from_nir(save(graph, tmp_path / "delays.nir"))
    x = spikes(9, 2, 6)
    torch.testing.assert_close(back(x), model(x), rtol=1e-5, atol=1e-5)


def test_delay_groups_in_a_recurrent_graph_run_step_by_step(delay_graph):
    graph, _, _ = delay_graph
    graph.nodes["rec"] = nir.Linear(0.5 * np.eye(3, dtype=np.float32))
    graph.edges += [("lif", "rec"), ("rec", "lif")]
    model = from_nir(graph)
    assert isinstance(model, GraphExecutor) and model.back == {("rec", "lif")}
    assert any(isinstance(m, DelayGroupLinear) for m in model.modules())
    x = spikes(8, 2, 4)
    assert model(x).shape == (8, 2, 3) and torch.equal(model(x), model(x))


def test_delay_groups_export_again_by_the_convention(delay_graph):
    graph, _, _ = delay_graph
    model = from_nir(graph)
    again = to_nir(model, DT)
    assert sorted(n for n in again.nodes if n.startswith("fc")) == sorted(n for n in graph.nodes if n.startswith("fc"))
    for d in (0, 1, 3):
        assert again.nodes[f"fc.d{d}"].metadata == {"snnlab.layer": "fc", "snnlab.delay_steps": d}
        assert np.allclose(again.nodes[f"fc.d{d}.delay"].delay, d * DT)
        assert (f"fc.d{d}.delay", "lif") in again.edges
    x = spikes(9, 2, 4)
    assert torch.equal(from_nir(again)(x), model(x))


def test_delay_nodes_without_metadata_become_delay_buffers(delay_graph):
    graph, _, _ = delay_graph
    for node in graph.nodes.values():
        node.metadata = {}
    plain = from_nir(graph)
    assert isinstance(plain, GraphExecutor)
    assert any(isinstance(m, DelayBuffer) for m in plain.modules())
    x = torch.rand(8, 2, 4) * 2
    grouped = from_nir(nir.NIRGraph(graph.nodes, graph.edges, metadata={"dt": DT}))
    torch.testing.assert_close(plain(x), grouped(x))


def test_delay_buffer_shifts_each_channel():
    buf = DelayBuffer(np.array([0, 2]))
    x = torch.arange(1.0, 6.0).reshape(5, 1, 1).repeat(1, 1, 2)
    y = buf(x)
    assert torch.equal(y[:, 0, 0], x[:, 0, 0]) and torch.equal(y[:, 0, 1], torch.tensor([0.0, 0.0, 1.0, 2.0, 3.0]))


def test_recurrent_edge_lags_one_step():
    rng = np.random.default_rng(3)
    w_in, w_rec = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 5)).astype(np.float32)
    nodes = {
        "input": nir.Input(np.array([4])),
        "fc": nir.Linear(w_in),
        "lif": lif_node(5),
        "rec": nir.Linear(w_rec),
        "output": nir.Output(np.array([5])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    model = from_nir(nir.NIRGraph(nodes, edges, metadata={"dt": DT}))
    assert model.back == {("rec", "lif")}
    x = spikes(10, 2, 4)
    s, v, ref = torch.zeros(2, 5), torch.zeros(2, 5), []
    for t in range(10):
        h = v + 0.5 * (x[t] @ torch.as_tensor(w_in).T + s @ torch.as_tensor(w_rec).T - v)
        s = (h >= 1).float()
        v, _ = h * (1 - s), ref.append(s)
    assert torch.stack(ref).sum() > 0
    assert torch.equal(model(x), torch.stack(ref))
    assert torch.equal(model(x), torch.stack(ref)), "state must restart on every call"


@pytest.mark.parametrize(
    "name,kw,shape",
    [
        ("mlp_snn", dict(in_features=10, hidden=[12, 8], batch_norm=True, dropout=0.1), (10,)),
        ("mlp_snn", dict(in_features=10, hidden=[8], neuron="cuba_lif", v_reset=None, readout="lif"), (10,)),
        ("conv_snn", dict(input_shape=(2, 10, 10), channels=(3, 4), kernel_size=3, pool=1), (2, 10, 10)),
    ],
)
def test_registered_models_export_and_come_back(name, kw, shape):
    from snnlab.models import create_model

    torch.manual_seed(0)
    model = create_model(name, **kw).eval()
    graph = to_nir(model)
    x = spikes(6, 2, *shape)
    torch.testing.assert_close(from_nir(graph)(x), model(x), rtol=1e-5, atol=1e-5)


def test_unsupported_modules_are_named():
    with pytest.raises(GraphError, match="MaxPool2d"):
        to_nir(nn.Sequential(snn.TimeDistributed(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), snn.LIF()), DT, (1, 8, 8))
    with pytest.raises(GraphError, match="ALIF"):
        to_nir(mlp(snn.ALIF(), snn.LI()), DT)
    with pytest.raises(GraphError, match="GELU"):
        to_nir(nn.Sequential(snn.TimeDistributed(nn.Linear(3, 3)), nn.GELU()), DT)
    with pytest.raises(GraphError, match="input_shape"):
        to_nir(nn.Sequential(snn.TimeDistributed(nn.Conv2d(1, 2, 3)), snn.LIF()), DT)
    with pytest.raises(GraphError, match="dt"):
        to_nir(mlp(snn.LIF(), snn.LI()), None)


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = snn.TimeDistributed(nn.Linear(4, 4))
        self.lif = snn.LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x) + x)


class _Listed(_Residual):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x))


def test_generic_containers_are_checked_on_a_probe():
    with pytest.raises(GraphError, match="nir_layers"):
        to_nir(_Residual(), DT)
    graph = to_nir(_Listed(), DT)
    assert [type(graph.nodes[n]).__name__ for n in ("fc", "lif")] == ["Affine", "LIF"]


def test_non_uniform_neuron_fields_and_bad_reset_mode_are_rejected():
    node = lif_node(3)
    node.tau = np.array([2e-3, 3e-3, 2e-3])
    graph = nir.NIRGraph(
        {"input": nir.Input(np.array([3])), "lif": node, "output": nir.Output(np.array([3]))},
        [("input", "lif"), ("lif", "output")],
        metadata={"dt": DT},
    )
    with pytest.raises(GraphError, match="'lif'.*tau"):
        from_nir(graph)
    graph.nodes["lif"] = lif_node(3, reset_mode="halve")
    with pytest.raises(GraphError, match="reset_mode"):
        from_nir(graph)
    with pytest.raises(GraphError, match="contradicts"):
        from_nir(graph, dt=2e-3)
