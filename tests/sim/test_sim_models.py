"""snnlab's own torch models, exported with ``snnlab.ir.to_nir``, simulated event-driven.

Spikes are compared step for step with the dense torch model run in float64
(``model.double()``); float32 on both sides is checked with a tolerance. snnlab has no
recurrent layer module, so recurrence is covered by graph tests (test_sim_exact.py).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from torch import nn

from snnlab.sim import Simulator

DT = 1e-3


def _to_nir():
    ir = importlib.import_module("snnlab.ir")
    if not hasattr(ir, "to_nir"):
        pytest.skip("snnlab.ir.to_nir does not exist yet (the IR export is being written)")
    return ir.to_nir


def _td(module: nn.Module) -> nn.Module:
    from snnlab.nn import TimeDistributed

    return TimeDistributed(module)


def _scaled(model: nn.Module, gain: float, shift: float = 0.1) -> nn.Module:
    """Weights scaled and shifted so that every layer fires moderately; evaluation mode."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(gain).add_(shift)
    return model.eval()


def _compare(
    model: nn.Module, x: np.ndarray, input_shape=None, extra_steps: int = 0, dtype=torch.float64, min_spikes: int = 10
) -> float:
    """Fraction of output entries where the event-driven run differs from the torch model."""
    graph = _to_nir()(model, DT, input_shape=input_shape)
    model = model.to(dtype)
    with torch.no_grad():
        want = model(torch.tensor(x, dtype=dtype)).numpy()  # (T [+ pad], B, out)
    sim = Simulator(graph, dtype=np.float64 if dtype == torch.float64 else np.float32)
    got = sim.run(x, steps=x.shape[0] + extra_steps).output(sim.output_names[0])
    assert want.sum() >= min_spikes, "the model must spike for the comparison to mean something"
    return float(np.mean(got.reshape(want.shape) != want))


def _mlp(soft: bool, decay_input: bool) -> nn.Module:
    from snnlab.nn import LIF

    torch.manual_seed(0)
    v_reset = None if soft else 0.0
    return _scaled(
        nn.Sequential(
            _td(nn.Linear(20, 32)),
            LIF(2.0, v_reset=v_reset, decay_input=decay_input),
            _td(nn.Linear(32, 10)),
            LIF(3.0, v_reset=v_reset, decay_input=decay_input),
        ),
        3.0,
    )


def _spike_input(shape, rate=0.3, seed=1) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.float64)


@pytest.mark.parametrize("soft,decay_input", [(False, True), (True, False), (False, False), (True, True)])
def test_mlp_lif_float64_exact(soft, decay_input):
    assert _compare(_mlp(soft, decay_input), _spike_input((40, 3, 20))) == 0.0


def test_mlp_float32_within_tolerance():
    assert _compare(_mlp(False, True), _spike_input((40, 3, 20)), dtype=torch.float32) <= 0.01


@pytest.mark.parametrize("pool", ["avg", "sum"])
def test_conv_pool_flatten_linear_float64_exact(pool):
    from snnlab.nn import IF, LIF, Flatten

    torch.manual_seed(1)
    pooling = nn.AvgPool2d(2) if pool == "avg" else nn.AvgPool2d(2, divisor_override=1)
    model = _scaled(
        nn.Sequential(
            _td(nn.Conv2d(2, 4, 3, padding=1)), LIF(2.0), _td(pooling), Flatten(), _td(nn.Linear(4 * 4 * 4, 5)), IF()
        ),
        2.5,
    )
    assert _compare(model, _spike_input((20, 2, 2, 8, 8), 0.3, 2), input_shape=(2, 8, 8), min_spikes=5) == 0.0


def test_delayed_linear_eval_float64_exact():
    from snnlab.nn import LIF, DelayedLinear

    torch.manual_seed(2)
    layer = DelayedLinear(12, 8, max_delay=5, bias=True)
    model = _scaled(nn.Sequential(layer, LIF(2.0)), 1.0)
    with torch.no_grad():
        layer.weight.mul_(2.0)
    assert len(torch.unique(layer.integer_delays())) > 1, "the test needs several distinct delays"
    assert _compare(model, _spike_input((30, 2, 12), 0.3, 3), extra_steps=layer.right_pad) == 0.0
