"""DelayedLinear: semantics, evaluation integer path, schedule, export helpers, bad input."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ShapeError
from snnlab.functional import delay as F
from snnlab.nn import DelayedLinear


def direct_integer(x: torch.Tensor, weights: torch.Tensor, delays: torch.Tensor, t_out: int) -> torch.Tensor:
    """``y[t, b, o] = sum_i w[o, i] x[t - d[o, i], b, i]`` by explicit loops over synapses."""
    T, B, _ = x.shape
    y = torch.zeros(t_out, B, weights.shape[0], dtype=x.dtype)
    for o in range(weights.shape[0]):
        for i in range(weights.shape[1]):
            d = int(delays[o, i])
            n = min(T, t_out - d)
            y[d : d + n, :, o] += weights[o, i] * x[:n, :, i]
    return y


def test_trained_then_eval_equals_direct_integer_sum(cpu_backend):
    backend = cpu_backend
    torch.manual_seed(1)
    layer = DelayedLinear(7, 5, max_delay=9, sigma_init=2.0, backend=backend).double()
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    x = torch.rand(12, 3, 7, dtype=torch.float64)
    for _ in range(3):  # a few training steps so positions are no longer at init
        opt.zero_grad()
        layer(x).pow(2).mean().backward()
        opt.step()
        layer.after_optimizer_step()
    layer.eval()
    delays = layer.integer_delays()
    assert delays.shape == (5, 7) and delays.dtype == torch.int64
    assert int(delays.min()) >= 0 and int(delays.max()) < 9
    expected = direct_integer(x, layer.weight[..., 0].detach(), delays, 12 + 4)
    torch.testing.assert_close(layer(x).detach(), expected)


def test_eval_rounds_positions_and_taps_match():
    layer = DelayedLinear(3, 2, max_delay=5, kernel_count=2)
    with torch.no_grad():
        layer.positions.copy_(torch.tensor([[[0.4, -1.6]] * 3, [[2.0, -2.0]] * 3]))
    taps = layer.taps()
    assert len(taps) == 2
    assert taps[0][1].tolist() == [[2, 2, 2], [0, 0, 0]]  # delay = 2 - round(P)
    assert taps[1][1].tolist() == [[4, 4, 4], [4, 4, 4]]
    assert layer.integer_delays().shape == (2, 3, 2)


def test_set_taps_round_trip_and_range_check():
    layer = DelayedLinear(4, 3, max_delay=6).eval()
    w = torch.randn(3, 4)
    d = torch.randint(0, 6, (3, 4))
    layer.set_taps([(w, d)])
    assert torch.equal(layer.integer_delays(), d)
    x = torch.randn(8, 2, 4)
    torch.testing.assert_close(layer(x), direct_integer(x, w, d, 8 + 2))
    with pytest.raises(ValueError, match=r"\[0, max_delay=6\)"):
        layer.set_taps([(w, torch.full((3, 4), 6))])
    with pytest.raises(ValueError, match=r"\[0, max_delay=6\)"):
        layer.set_taps([(w, torch.full((3, 4), -1))])


def test_output_length_and_right_pad():
    x = torch.randn(10, 2, 3)
    assert DelayedLinear(3, 4, 25)(x).shape == (10 + 12, 2, 4)
    assert DelayedLinear(3, 4, 25, right_pad=0)(x).shape == (10, 2, 4)
    assert DelayedLinear(3, 4, 25, bias=True)(torch.randn(1, 2, 3)).shape == (13, 2, 4)


def test_gaussian_kernel_is_normalised_and_centred():
    w = torch.tensor([[[2.0]]])
    p = torch.tensor([[[1.0]]])
    k = F.gauss_kernel(w, p, sigma=0.5, max_delay=7)
    assert abs(float(k.sum()) - 2.0) < 1e-5
    assert int(k.argmax()) == 3 + 1  # centre index = P + K // 2
    assert F.positions_to_delays(p, 7).item() == 2.0  # delay K // 2 - P


def test_taps_truncation_close_to_dense_late_training():
    torch.manual_seed(0)
    layer = DelayedLinear(16, 8, 25, sigma_init=0.23, path="taps", backend="torch")
    assert F.window_size(0.23, 25, layer.truncate) == 4
    x = torch.rand(30, 4, 16)
    y_taps = layer(x)
    layer.path = "dense"
    y_dense = layer(x)
    err = (y_taps - y_dense).abs().max() / y_dense.abs().max()
    assert err < 1e-3


def test_sigma_schedule_matches_paper():
    layer = DelayedLinear(2, 2, 25)
    assert float(layer.sigma) == 12.0
    epochs = 150
    for epoch in range(epochs):
        layer.on_epoch_end(epoch, epochs)
        if epoch == epochs // 4 - 2:
            assert float(layer.sigma) > 0.23
    assert abs(float(layer.sigma) - 0.23) < 1e-6
    alpha = (0.23 / 12.0) ** (1 / 37)
    assert abs(F.sigma_decay_factor(12.0, epochs) - alpha) < 1e-12


def test_clamp_positions_keeps_delays_in_range():
    layer = DelayedLinear(3, 3, 25)
    with torch.no_grad():
        layer.positions.fill_(100.0)
    layer.after_optimizer_step()
    assert float(layer.positions.detach().max()) == 12.0
    assert int(layer.integer_delays().min()) == 0
    even = DelayedLinear(3, 3, 4)
    with torch.no_grad():
        even.positions.fill_(-100.0)
    even.clamp_positions()
    assert int(even.integer_delays().max()) == 3


def test_init_matches_paper():
    torch.manual_seed(0)
    layer = DelayedLinear(140, 256, 25)
    bound = (6.0 / 140) ** 0.5
    assert float(layer.weight.detach().abs().max()) <= bound
    assert -12.0 <= float(layer.positions.detach().min()) and float(layer.positions.detach().max()) <= 12.0
    names = dict(layer.named_parameters())
    assert set(names) == {"weight", "positions"} and layer.is_delay_layer


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_delay": 0}, "max_delay must be an integer >= 1"),
        ({"max_delay": 5, "sigma_init": 0.0}, "sigma_init must be a finite number > 0"),
        ({"max_delay": 5, "sigma_init": -1.0}, "sigma_init must be a finite number > 0"),
        ({"max_delay": 5, "kernel_count": 0}, "kernel_count must be an integer >= 1"),
        ({"max_delay": 5, "path": "fast"}, "path must be one of"),
        ({"max_delay": 5, "right_pad": -1}, "right_pad must be an integer >= 0"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DelayedLinear(3, 2, **kwargs)


def test_bad_input_shapes():
    layer = DelayedLinear(3, 2, 5)
    with pytest.raises(ShapeError, match="in_features=3"):
        layer(torch.randn(4, 2, 5))
    with pytest.raises(ShapeError, match=r"\(T, B, in_features=3\)"):
        layer(torch.randn(4, 3))
    with pytest.raises(ShapeError, match="T=1"):
        layer(torch.randn(0, 2, 3))
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        layer.set_sigma(0.0)
    with pytest.raises(ValueError, match="set_taps: tap 0 weight and delays must be"):
        layer.set_taps([(torch.zeros(2, 2), torch.zeros(2, 2))])
