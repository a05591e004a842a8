"""Calibration of Dynamic Confidence: threshold sweep, Pareto front and the choice of a point.

The paper sweeps the threshold on a small validation subset, plots (mean latency, accuracy)
and picks a point on the Pareto front. Here the choice follows a rule the user gives:

- ``max_drop`` (percentage points): the fastest point whose accuracy is at most ``max_drop``
  below the accuracy at T_max on the same split;
- ``target_latency`` (steps): the most accurate point whose mean latency is at most that.

Everything works on recorded per-step outputs ``(T, B, C)`` (post hoc), so a sweep costs one
forward pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import torch

from snnlab.errors import ConfigError, ShapeError
from snnlab.inference.confidence import DynamicConfidence, check_outputs, fixed_latency_accuracy

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(2, 18)) + (
    0.9,
    0.92,
    0.94,
    0.96,
    0.98,
    0.99,
    0.995,
    0.999,
    1.0,
)


@dataclass(frozen=True)
class SweepPoint:
    """One threshold's operating point on a split."""

    threshold: float
    mean_latency: float  # steps
    accuracy: float  # fraction in [0, 1]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Calibration:
    """The outcome of :func:`calibrate`: the sweep, its front and the chosen point."""

    points: list[SweepPoint]
    front: list[SweepPoint]
    chosen: SweepPoint
    accuracy_t_max: float  # accuracy when every sample runs T_max steps
    t_max: int
    rule: dict

    def to_dict(self) -> dict:
        return {
            "points": [p.to_dict() for p in self.points],
            "front": [p.to_dict() for p in self.front],
            "chosen": self.chosen.to_dict(),
            "accuracy_t_max": self.accuracy_t_max,
            "t_max": self.t_max,
            "rule": dict(self.rule),
        }


def _check_labels(outputs: torch.Tensor, labels: torch.Tensor, owner: str) -> None:
    if not isinstance(labels, torch.Tensor) or tuple(labels.shape) != (outputs.shape[1],):
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ShapeError(f"{owner}: labels must be (B,) = ({outputs.shape[1]},), got {got}")


def sweep(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    smoothing: float = 30.0,
    t_max: Optional[int] = None,
    accumulate: bool = True,
) -> list[SweepPoint]:
    """(mean latency, accuracy) of DC at every threshold, on outputs (T, B, C) and labels (B,)."""
    check_outputs(outputs, "sweep")
    _check_labels(outputs, labels, "sweep")
    if len(thresholds) == 0:
        raise ConfigError("sweep: thresholds must hold at least one value in (0, 1]")
    points = []
    for th in sorted(set(float(t) for t in thresholds)):
        decision = DynamicConfidence(th, smoothing, t_max, accumulate).decide(outputs)
        points.append(SweepPoint(th, decision.mean_latency(), decision.accuracy(labels)))
    return points


def pareto_front(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """Points no other point beats (lower or equal latency and higher or equal accuracy, one strictly).

    Returned by increasing latency (so accuracy increases too); ties keep the lowest threshold.
    """
    ordered = sorted(points, key=lambda p: (p.mean_latency, -p.accuracy, p.threshold))
    front: list[SweepPoint] = []
    for p in ordered:
        if not front or p.accuracy > front[-1].accuracy:
            front.append(p)
    return front


def choose(
    front: Sequence[SweepPoint],
    accuracy_t_max: float,
    max_drop: Optional[float] = None,
    target_latency: Optional[float] = None,
) -> SweepPoint:
    """Pick a point of the front by one rule (see the module docstring).

    Raises:
        ConfigError: when both or neither rule is given, or a value is negative.
    """
    if (max_drop is None) == (target_latency is None):
        raise ConfigError("choose: give exactly one of max_drop (percentage points) or target_latency (steps)")
    if max_drop is not None:
        if not max_drop >= 0:
            raise ConfigError(f"choose: max_drop must be >= 0 percentage points, got {max_drop!r}")
        floor = accuracy_t_max - max_drop / 100.0 - 1e-9
        ok = [p for p in front if p.accuracy >= floor]
        return min(ok, key=lambda p: p.mean_latency) if ok else max(front, key=lambda p: p.accuracy)
    if not target_latency >= 1:
        raise ConfigError(f"choose: target_latency must be >= 1 step, got {target_latency!r}")
    ok = [p for p in front if p.mean_latency <= target_latency + 1e-9]
    return max(ok, key=lambda p: p.accuracy) if ok else min(front, key=lambda p: p.mean_latency)


def calibrate(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    max_drop: Optional[float] = None,
    target_latency: Optional[float] = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    smoothing: float = 30.0,
    t_max: Optional[int] = None,
    accumulate: bool = True,
) -> Calibration:
    """Sweep thresholds on a validation split and choose an operating point.

    Args:
        outputs: (T, B, C) per-step outputs on the validation split.
        labels: (B,) its labels.
        max_drop: accuracy drop allowed vs T_max, in percentage points (default rule: 0.5).
        target_latency: mean latency allowed, in steps (instead of ``max_drop``).
        thresholds: values in (0, 1] to try.
        smoothing, t_max, accumulate: as in :class:`DynamicConfidence`.
    """
    if max_drop is None and target_latency is None:
        max_drop = 0.5
    points = sweep(outputs, labels, thresholds, smoothing, t_max, accumulate)
    T = DynamicConfidence(1.0, smoothing, t_max, accumulate).budget(outputs.shape[0])
    acc_tmax = float(fixed_latency_accuracy(outputs[:T], labels, accumulate)[-1])
    front = pareto_front(points)
    chosen = choose(front, acc_tmax, max_drop, target_latency)
    rule = {"max_drop": max_drop} if max_drop is not None else {"target_latency": target_latency}
    return Calibration(points, front, chosen, acc_tmax, T, rule)
