"""Quantised ANN -> IF SNN conversion (the paper's base network path) and early exit on it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.inference import DynamicConfidence, EarlyExitRunner, calibrate, check_streamable
from snnlab.models import ann2snn as A
from snnlab.models import create_model, list_models


class _ClipReLU(nn.Module):
    """The quantiser's continuous limit ``clip(x, 0, theta)``."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, self.theta)


def _clip_limit(ann: A.QuantizedANN) -> nn.Module:
    body = A.copy.deepcopy(ann.body)
    for name, m in list(body.named_children()):
        if isinstance(m, A.LSQQuant):
            setattr(body, name, _ClipReLU(m.threshold))
    return body.eval()


def test_single_layer_matches_quantised_ann_exactly_at_t_equals_levels():
    torch.manual_seed(0)
    ann = A.qann_mlp(in_features=10, num_classes=3, hidden=(32,), bits=2, init_scale=0.4).eval()
    x = torch.randn(16, 10)
    snn_out = A.convert_to_snn(ann, timesteps=3)(x).mean(0)  # T = L = 2^2 - 1
    assert torch.allclose(snn_out, ann(x)[0], atol=1e-5)


def test_deep_snn_approaches_the_rate_limit_as_t_grows():
    torch.manual_seed(1)
    ann = A.qann_mlp(in_features=10, num_classes=3, hidden=(48, 32), bits=2, init_scale=0.4).eval()
    x = torch.randn(32, 10)
    limit = _clip_limit(ann)(x)
    err = [(A.convert_to_snn(ann, T)(x).mean(0) - limit).abs().mean().item() for T in (4, 32, 256)]
    assert err[2] < err[1] < err[0]
    assert err[2] < 0.1 * err[0]


def test_conversion_sets_if_parameters_and_keeps_the_ann():
    ann = A.qann_cnn(in_channels=2, num_classes=4, channels=(4,), bits=2, init_scale=0.25, timesteps=5).eval()
    snn_model = A.convert_to_snn(ann)
    spiking = [m for m in snn_model.modules() if isinstance(m, A.SpikingQuant)]
    assert len(spiking) == 1 and spiking[0].theta == pytest.approx(0.75)
    assert spiking[0].neuron.params.v_reset is None  # subtractive reset
    assert any(isinstance(m, A.LSQQuant) for m in ann.modules())  # the ANN is untouched
    out = snn_model(torch.rand(3, 2, 8, 8))  # static batch -> T = 5 steps
    assert out.shape == (5, 3, 4)
    check_streamable(snn_model, torch.rand(5, 3, 2, 8, 8))
    with pytest.raises(ConfigError):
        A.convert_to_snn(nn.Linear(2, 2))
    with pytest.raises(ConfigError):
        A.LSQQuant(bits=0)


def test_registered_families_build_and_backpropagate():
    assert {"qann_mlp", "qann_cnn", "qann_resnet18"} <= set(list_models())
    model = create_model("qann_cnn", in_channels=2, num_classes=3, channels=(4, 8), timesteps=2)
    out = model(torch.rand(2, 4, 2, 8, 8))
    assert out.shape == (2, 4, 3)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.fixture(scope="module")
def trained_digits_ann():
    """A 2-bit MLP trained on scikit-learn's 8x8 digits (static), and the test split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    tr, te = perm[:1400], perm[1400:]
    torch.manual_seed(0)
    ann = A.qann_mlp(in_features=64, num_classes=10, hidden=(64,), bits=2, init_scale=0.5, timesteps=24)
    opt = torch.optim.Adam(ann.parameters(), lr=1e-2)
    for _ in range(80):
        opt.zero_grad()
        nn.functional.cross_entropy(ann(x[tr])[0], y[tr]).backward()
        opt.step()
    return ann.eval(), x[te], y[te]


def test_early_exit_on_converted_network(trained_digits_ann):
    ann, x, y = trained_digits_ann
    ann_acc = (ann(x)[0].argmax(-1) == y).float().mean().item()
    assert ann_acc > 0.85
    snn_model = A.convert_to_snn(ann, timesteps=24)
    out = snn_model(x)  # (24, N, 10)
    acc_tmax = (out.sum(0).argmax(-1) == y).float().mean().item()
    assert acc_tmax > ann_acc - 0.05  # rate coding reaches the ANN's accuracy
    cal = calibrate(out[:, :100], y[:100], max_drop=1.0, smoothing=30.0)
    rule = DynamicConfidence(cal.chosen.threshold, 30.0)
    d = rule.decide(out[:, 100:])
    assert d.mean_latency() < 24 * 0.8
    assert d.accuracy(y[100:]) > acc_tmax - 0.05
    runner = EarlyExitRunner(snn_model, rule, count=True)
    x_seq = x[100:].unsqueeze(0).expand(24, *x[100:].shape)
    stats = runner.run([(x_seq, y[100:])])
    assert stats.decision.exit_step.tolist() == d.exit_step.tolist()
    full = runner.run([(x_seq, y[100:])], early_exit=False)
    assert stats.synaptic_ops < full.synaptic_ops
