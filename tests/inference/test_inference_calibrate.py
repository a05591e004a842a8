"""Threshold sweep, Pareto front and the choice of an operating point."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ConfigError, ShapeError
from snnlab.inference import SweepPoint, calibrate, choose, pareto_front, sweep


def test_pareto_front_drops_dominated_points():
    pts = [
        SweepPoint(0.1, 2.0, 0.70),
        SweepPoint(0.2, 3.0, 0.65),
        SweepPoint(0.3, 4.0, 0.90),
        SweepPoint(0.4, 4.0, 0.80),
        SweepPoint(0.5, 6.0, 0.90),
        SweepPoint(0.6, 8.0, 0.95),
    ]
    front = pareto_front(pts)
    assert [p.threshold for p in front] == [0.1, 0.3, 0.6]


def test_choose_by_max_drop_and_by_target_latency():
    front = [SweepPoint(0.1, 2.0, 0.70), SweepPoint(0.3, 4.0, 0.90), SweepPoint(0.6, 8.0, 0.95)]
    assert choose(front, 0.95, max_drop=5.0).threshold == 0.3
    assert choose(front, 0.95, max_drop=0.0).threshold == 0.6
    assert choose(front, 0.95, max_drop=30.0).threshold == 0.1
    assert choose(front, 0.95, target_latency=5.0).threshold == 0.3
    assert choose(front, 0.95, target_latency=1.0).threshold == 0.1  # nothing fits: the fastest
    with pytest.raises(ConfigError):
        choose(front, 0.95)
    with pytest.raises(ConfigError):
        choose(front, 0.95, max_drop=1.0, target_latency=3.0)
    with pytest.raises(ConfigError):
        choose(front, 0.95, max_drop=-1.0)


def _noisy_outputs(n: int = 200, T: int = 12, C: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs whose evidence for the label grows with time, with per-sample difficulty."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, C, (n,), generator=g)
    signal = torch.rand(n, generator=g) * 2.0
    out = torch.randn(T, n, C, generator=g) * 3.0
    out[:, torch.arange(n), labels] += signal
    return out, labels


def test_sweep_is_monotone_in_latency_and_calibration_respects_the_drop():
    out, labels = _noisy_outputs()
    pts = sweep(out, labels, [0.3, 0.5, 0.7, 0.9, 1.0], smoothing=5.0)
    lat = [p.mean_latency for p in pts]
    assert lat == sorted(lat) and lat[-1] == 12.0
    cal = calibrate(out, labels, max_drop=2.0, smoothing=5.0)
    assert cal.chosen.accuracy >= cal.accuracy_t_max - 0.02 - 1e-9
    assert cal.chosen in cal.front and cal.t_max == 12
    loose = calibrate(out, labels, max_drop=20.0, smoothing=5.0)
    assert loose.chosen.mean_latency <= cal.chosen.mean_latency
    target = calibrate(out, labels, target_latency=6.0, smoothing=5.0)
    assert target.chosen.mean_latency <= 6.0 and target.rule == {"target_latency": 6.0}
    assert set(cal.to_dict()) >= {"points", "front", "chosen", "accuracy_t_max"}


def test_sweep_rejects_bad_labels_and_thresholds():
    out, labels = _noisy_outputs(n=10)
    with pytest.raises(ShapeError):
        sweep(out, labels[:5])
    with pytest.raises(ConfigError):
        sweep(out, labels, [1.2])
    with pytest.raises(ConfigError):
        sweep(out, labels, [])
