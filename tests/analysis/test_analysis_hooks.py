"""Activity hooks: NeuroBench effective operations counted by hand on small inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnlab.analysis import MatMul, profile_model
from snnlab.analysis.metrics import activation_sparsity, summary, synaptic_operations
from snnlab.ir.activity import ActivityProfile


class Step(nn.Module):
    """A stand-in neuron: Heaviside of the input, flagged as snnlab neurons are."""

    is_spiking_neuron = True

    def forward(self, x):
        return (x > 0.5).float()


class Delayed(nn.Module):
    """A stand-in delay layer with taps."""

    is_delay_layer = True

    def __init__(self, n_in, n_out, taps):
        super().__init__()
        self.in_features, self.out_features, self.kernel_count, self.max_delay = n_in, n_out, taps, 25
        self.weight = nn.Parameter(torch.randn(n_out, n_in))

    def forward(self, x):
        return x @ self.weight.T


def test_linear_macs_then_acs_by_nonzero_times_fanout():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), Step(), nn.Linear(20, 5))
    with torch.no_grad():
        model[2].weight[0, :] = 0  # one output row disconnected: effective ops skip zero weights
    x = torch.rand(4, 3, 10)
    p = profile_model(model, x, dt=1e-3)
    fc1, lif, fc2 = p.layers
    assert fc1.macs == 4 * 3 * 10 * 20 and fc1.acs == 0 and fc1.dense_ops == 4 * 200
    spikes = model[1](model[0](x))
    assert lif.spikes == spikes.sum() and lif.neuron_updates == 4 * 3 * 20 and lif.n_neurons == 20
    assert fc2.acs == spikes.sum() * 4 and fc2.macs == 0
    assert fc2.extra["connection_sparsity"] == pytest.approx(0.2)
    assert fc2.input_rate == pytest.approx(float(spikes.mean()))
    assert p.meta["parameter_count"] == 10 * 20 + 20 + 20 * 5 + 5


def test_binary_output_module_detected_as_neuron_without_flag():
    class Heaviside(nn.Module):
        def forward(self, x):
            return (x > 0).float()

    p = profile_model(nn.Sequential(nn.Linear(4, 6), Heaviside(), nn.Flatten(0, 1)), torch.randn(3, 2, 4))
    assert [l.kind for l in p.layers] == ["synapse", "neuron"]


def test_conv_effective_ops_match_binarised_convolution():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    x = (torch.rand(2, 4, 2, 8, 8) > 0.7).float()  # (T, B, C, H, W) spikes

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(x.flatten(0, 1))

    layer = profile_model(Seq(), x).layers[0]
    ones_w = torch.ones_like(conv.weight)
    expect = nn.functional.conv2d(x.flatten(0, 1), ones_w, None, 2, 1).sum()
    assert layer.acs == pytest.approx(float(expect)) and layer.macs == 0
    dense = nn.functional.conv2d(torch.ones(8, 2, 8, 8), ones_w, None, 2, 1).sum() / 4
    assert layer.dense_ops == pytest.approx(float(dense))
    assert layer.extra["fan_in"] == 18


def test_delay_layer_counts_taps():
    x = (torch.rand(5, 2, 6) > 0.5).float()
    layer = profile_model(nn.Sequential(Delayed(6, 4, 3)), x).layers[0]
    assert layer.acs == float(x.sum()) * 4 * 3 and layer.extra["max_delay"] == 25


def test_attention_matmul_counts_nonzero_pairs():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qk = MatMul()

        def forward(self, x):
            return self.qk(x, x.transpose(-1, -2))

    x = (torch.rand(2, 1, 5, 4) > 0.5).float()
    layer = profile_model(Attn(), x).layers[0]
    assert layer.kind == "attention" and layer.acs == float((x @ x.transpose(-1, -2)).sum())


def test_metrics_and_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(8, 16), Step(), nn.Linear(16, 2))
    p = profile_model(model, torch.rand(6, 4, 8))
    ops = synaptic_operations(p)
    assert ops["Effective_MACs"] == pytest.approx(6 * 8 * 16) and ops["Dense"] == pytest.approx(6 * (128 + 32))
    assert activation_sparsity(p) == pytest.approx(1 - p.layers[1].spikes / p.layers[1].neuron_updates)
    p.save(tmp_path / "activity.json")
    back = ActivityProfile.load(tmp_path / "activity.json")
    assert back.to_dict() == p.to_dict() and summary(back)["footprint_bytes"] == p.meta["footprint_bytes"]
    event = ActivityProfile.from_dict({**p.to_dict(), "source": "event", "meta": {}})
    assert event.source == "event"


def test_rejects_non_time_major_input():
    with pytest.raises(ValueError, match=r"time-major \(T, B, ...\)"):
        profile_model(nn.Linear(3, 2), torch.rand(3))
