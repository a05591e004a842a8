"""Dynamic Confidence decision rule, oracle and input checks (pure tensor code)."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ConfigError, ShapeError
from snnlab.inference import DynamicConfidence, fixed_latency_accuracy, oracle, predictions


def test_exit_step_matches_hand_computation(ramp):
    # Class 0 gets 10 per step from step 1; smoothing 30: S_t = [10t/30, 0, 0].
    # conf_t = e^{t/3} / (e^{t/3} + 2) > 0.6  <=>  t/3 > ln 3  <=>  t > 3.296  -> exit at step 4.
    out = ramp([0], [1], T=10, C=3, gain=10.0)
    d = DynamicConfidence(0.6, 30.0).decide(out)
    assert d.exit_step.tolist() == [4]
    assert d.prediction.tolist() == [0]
    expected = torch.exp(torch.tensor(4 / 3)) / (torch.exp(torch.tensor(4 / 3)) + 2)
    assert d.confidence.item() == pytest.approx(expected.item(), rel=1e-5)


def test_never_confident_runs_to_t_max_and_budget_truncates():
    out = torch.zeros(8, 2, 4)  # uniform softmax: conf = 0.25 forever
    d = DynamicConfidence(0.6, 30.0).decide(out)
    assert d.exit_step.tolist() == [8, 8] and d.t_max == 8
    d = DynamicConfidence(0.6, 30.0, t_max=5).decide(out)
    assert d.exit_step.tolist() == [5, 5] and d.t_max == 5


def test_threshold_one_never_exits_early_and_smoothing_slows_exit(ramp):
    out = ramp([1, 2], [1, 3], T=12, C=3, gain=10.0)
    assert DynamicConfidence(1.0).decide(out).exit_step.tolist() == [12, 12]
    fast = DynamicConfidence(0.6, 5.0).decide(out).exit_step
    slow = DynamicConfidence(0.6, 60.0).decide(out).exit_step
    assert (fast < slow).all()


def test_per_sample_decisions_and_later_onset_exits_later(ramp):
    out = ramp([0, 1, 2], [1, 3, 6], T=15, C=3, gain=10.0)
    d = DynamicConfidence(0.6, 30.0).decide(out)
    assert d.exit_step.tolist() == [4, 6, 9]
    assert d.prediction.tolist() == [0, 1, 2]


def test_streaming_step_agrees_with_post_hoc():
    out = torch.randn(10, 6, 5, generator=torch.Generator().manual_seed(0)) * 4
    rule = DynamicConfidence(0.5, 3.0)
    post = rule.decide(out)
    acc, exit_step = torch.zeros(6, 5), torch.full((6,), 10)
    for t in range(10):
        acc, done = rule.step(acc, out[t])
        exit_step = torch.where(done & (exit_step == 10), torch.full_like(exit_step, t + 1), exit_step)
    assert exit_step.tolist() == post.exit_step.tolist()


def test_non_accumulating_mode_uses_current_value():
    out = torch.zeros(6, 1, 2)
    out[2, 0, 0] = 100.0  # one confident step only
    assert DynamicConfidence(0.6, 1.0, accumulate=False).decide(out).exit_step.tolist() == [3]
    assert DynamicConfidence(0.6, 1.0, accumulate=True).decide(out).exit_step.tolist() == [3]
    out[2, 0, 0], out[3, 0, 1] = 1.0, 1.0  # cumulative ties, current value does not
    assert DynamicConfidence(0.6, 1.0, accumulate=False).decide(out).exit_step.tolist() == [3]


def test_oracle_earliest_and_stable():
    out = torch.zeros(6, 3, 2)
    out[0, 0, 1] = 1.0  # sample 0: correct (class 1) at step 1 only, then wrong from step 2 on
    out[1:, 0, 0] = 2.0
    out[:, 1, 0] = 1.0  # sample 1: class 0 all along, label 0 -> step 1
    out[:, 2, 1] = 1.0  # sample 2: never correct (label 0)
    labels = torch.tensor([1, 0, 0])
    paper = oracle(out, labels, "earliest")
    assert paper.exit_step.tolist() == [1, 1, 6]
    assert paper.accuracy(labels) == pytest.approx(2 / 3)
    stable = oracle(out, labels, "stable")
    assert stable.exit_step.tolist() == [6, 1, 6]
    assert stable.accuracy(labels) == pytest.approx(float(fixed_latency_accuracy(out, labels)[-1]))


def test_predictions_and_fixed_latency_accuracy(ramp):
    out = ramp([0, 1], [1, 4], T=5, C=2)
    labels = torch.tensor([0, 1])
    assert predictions(out)[:, 1].tolist() == [0, 0, 0, 1, 1]
    assert fixed_latency_accuracy(out, labels).tolist() == [0.5, 0.5, 0.5, 1.0, 1.0]


@pytest.mark.parametrize(
    "kw",
    [
        {"threshold": 0.0},
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"threshold": float("nan")},
        {"threshold": "0.6"},
        {"smoothing": 0.0},
        {"smoothing": -3.0},
        {"smoothing": float("inf")},
        {"t_max": 0},
        {"t_max": 2.5},
        {"t_max": True},
    ],
)
def test_bad_settings_raise_config_error(kw):
    with pytest.raises(ConfigError):
        DynamicConfidence(**kw)


@pytest.mark.parametrize("shape", [(5, 3), (5, 3, 1), (2, 5, 3, 4), (0, 3, 4)])
def test_bad_outputs_raise_shape_error(shape):
    with pytest.raises(ShapeError):
        DynamicConfidence().decide(torch.zeros(shape))


def test_integer_outputs_and_bad_oracle_inputs_raise():
    with pytest.raises(ShapeError):
        DynamicConfidence().decide(torch.zeros(4, 2, 3, dtype=torch.long))
    with pytest.raises(ShapeError):
        oracle(torch.zeros(4, 2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigError):
        oracle(torch.zeros(4, 2, 3), torch.zeros(2, dtype=torch.long), mode="latest")
    assert issubclass(ConfigError, ValueError) and issubclass(ShapeError, ValueError)
