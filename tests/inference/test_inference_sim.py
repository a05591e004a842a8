"""Early exit in the event-driven simulator's streaming mode (skipped when snnlab.sim cannot run)."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ShapeError
from snnlab.inference import DynamicConfidence
from snnlab.inference.sim_exit import run_simulator


@pytest.fixture(params=["reference", pytest.param("numba", marks=pytest.mark.slow)])
def simulator_and_model(request, small_snn):
    pytest.importorskip("nir")
    sim_module = pytest.importorskip("snnlab.sim")
    ir = pytest.importorskip("snnlab.ir")
    model = small_snn
    for m in model.modules():  # BN folded by the exporter uses running stats: keep them non-trivial
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.fill_(0.1)
    return sim_module.Simulator(ir.to_nir(model, dt=1e-3), backend=request.param), model


def test_simulator_decisions_equal_dense_post_hoc(simulator_and_model):
    sim, model = simulator_and_model
    x = (torch.rand(10, 9, 12, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    with torch.no_grad():
        dense = model(x)
    for threshold in (0.3, 0.35, 1.0):
        rule = DynamicConfidence(threshold, smoothing=2.0)
        result = run_simulator(sim, x, rule)
        post = rule.decide(dense)
        assert result.decision.exit_step.tolist() == post.exit_step.tolist()
        assert result.decision.prediction.tolist() == post.prediction.tolist()
        assert result.input_events <= result.input_events_full
        assert result.steps_run == int(post.exit_step.max())
    assert run_simulator(sim, x, DynamicConfidence(1.0)).input_events == int((x != 0).sum())


def test_simulator_rejects_bad_input(simulator_and_model):
    sim, _ = simulator_and_model
    with pytest.raises(ShapeError):
        run_simulator(sim, torch.zeros(12), DynamicConfidence())
