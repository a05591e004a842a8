"""Dynamic Confidence (Li, Jones and Furber, ICCV 2023): stop each input once the SNN is sure.

At step ``t`` (1-based) of an input, with ``o_tau`` the output layer's per-step value (the
logits of a non-spiking output layer, or an LI readout's membrane)::

    S_t    = (o_1 + ... + o_t) / smoothing          # accumulated output, "confidence smoothing"
    p_t    = softmax(S_t)
    conf_t = max_c p_t[c]                            # prediction = argmax_c S_t
    exit   = min{t : conf_t > threshold}  (T_max when no step qualifies)

Since ``S_t`` grows about linearly with ``t``, the constant ``smoothing`` acts as a temperature
that decreases with time. The paper's values: ``smoothing = 30``, ``threshold = 0.6``.
``accumulate=False`` uses ``S_t = o_t / smoothing`` instead, for readouts whose per-step value
is already an integral of the past.

Latencies are counted in steps consumed, 1..T_max.

The *oracle* (the network's potential in the paper) stops every input at the first step whose
prediction is correct (paper's definition, ``mode="earliest"``); ``mode="stable"`` stops at the
first step from which the prediction stays correct to T_max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from snnlab.errors import ConfigError, ShapeError

ORACLE_MODES = ("earliest", "stable")


@dataclass(frozen=True)
class ExitDecision:
    """Per-sample outcome of early exit on a batch of B samples."""

    exit_step: torch.Tensor  # (B,) int64, steps consumed, 1..T_max
    prediction: torch.Tensor  # (B,) int64, argmax of the accumulated output at exit
    confidence: torch.Tensor  # (B,) float, max softmax at exit
    t_max: int  # the step budget

    def accuracy(self, labels: torch.Tensor) -> float:
        """Fraction of correct predictions at exit."""
        return float((self.prediction == labels.to(self.prediction.device)).float().mean())

    def mean_latency(self) -> float:
        """Mean number of steps consumed per sample."""
        return float(self.exit_step.float().mean())


def check_outputs(outputs: torch.Tensor, owner: str, time_major: bool = True) -> None:
    """Raise ShapeError unless ``outputs`` is (T, B, C) (or (B, C)) floats with C >= 2 classes."""
    want = 3 if time_major else 2
    form = "(T, B, C)" if time_major else "(B, C)"
    if not isinstance(outputs, torch.Tensor) or outputs.dim() != want:
        got = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise ShapeError(f"{owner}: expected per-step outputs {form} with a class dim last, got {got}")
    if not outputs.is_floating_point():
        raise ShapeError(f"{owner}: expected floating-point outputs, got {outputs.dtype}")
    if outputs.shape[-1] < 2:
        raise ShapeError(f"{owner}: the last dim must be a class dim with >= 2 classes, got {outputs.shape[-1]}")
    if time_major and (outputs.shape[0] < 1 or outputs.shape[1] < 1):
        raise ShapeError(f"{owner}: outputs need T >= 1 steps and B >= 1 samples, got {tuple(outputs.shape)}")


class DynamicConfidence:
    """The paper's decision rule, on whole sequences (post hoc) or one step at a time.

    Args:
        threshold: exit when the max softmax exceeds it, in (0, 1]; 1 never exits early.
        smoothing: divides the accumulated output before the softmax, > 0.
        t_max: step budget; None = all steps given.
        accumulate: sum the per-step outputs (the paper) or use the current one.

    Raises:
        ConfigError: for a value outside the ranges above.
    """

    def __init__(
        self, threshold: float = 0.6, smoothing: float = 30.0, t_max: Optional[int] = None, accumulate: bool = True
    ) -> None:
        if not (_is_num(threshold) and 0.0 < threshold <= 1.0):
            raise ConfigError(f"DynamicConfidence: threshold must be a number in (0, 1], got {threshold!r}")
        if not (_is_num(smoothing) and smoothing > 0):
            raise ConfigError(f"DynamicConfidence: smoothing must be a number > 0, got {smoothing!r}")
        if t_max is not None and (isinstance(t_max, bool) or not isinstance(t_max, int) or t_max < 1):
            raise ConfigError(f"DynamicConfidence: t_max must be an integer >= 1 or None, got {t_max!r}")
        self.threshold = float(threshold)
        self.smoothing = float(smoothing)
        self.t_max = t_max
        self.accumulate = bool(accumulate)

    def __repr__(self) -> str:
        return (
            f"DynamicConfidence(threshold={self.threshold}, smoothing={self.smoothing}, "
            f"t_max={self.t_max}, accumulate={self.accumulate})"
        )

    def budget(self, steps: int) -> int:
        """Steps that will be run for an input of ``steps`` steps: ``min(steps, t_max)``."""
        return steps if self.t_max is None else min(steps, self.t_max)

    def scores(self, outputs: torch.Tensor) -> torch.Tensor:
        """``S_t`` for every step: (T, B, C) -> (T, B, C), truncated to the budget."""
        check_outputs(outputs, "DynamicConfidence")
        out = outputs[: self.budget(outputs.shape[0])]
        return (out.cumsum(0) if self.accumulate else out) / self.smoothing

    def confidence(self, scores: torch.Tensor) -> torch.Tensor:
        """Max softmax over the last (class) dim: (..., C) -> (...)."""
        return torch.softmax(scores.float(), dim=-1).amax(dim=-1)

    def decide(self, outputs: torch.Tensor) -> ExitDecision:
        """Post hoc decision for every sample from its full per-step outputs (T, B, C)."""
        scores = self.scores(outputs)  # (T, B, C)
        T = scores.shape[0]
        over = self.confidence(scores) > self.threshold  # (T, B)
        first = torch.where(over.any(0), over.float().argmax(0), torch.full_like(over[0], T - 1, dtype=torch.long))
        rows = torch.arange(scores.shape[1], device=scores.device)
        at_exit = scores[first, rows]  # (B, C)
        return ExitDecision(first + 1, at_exit.argmax(-1), self.confidence(at_exit), T)

    def step(self, scores_acc: torch.Tensor, out_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Streaming update for the active samples.

        Args:
            scores_acc: (B, C) accumulated raw output so far (zeros before the first step).
            out_t: (B, C) the output layer's value at this step.

        Returns:
            ``(new_acc, done)``: the updated accumulator and a (B,) bool of samples over threshold.
        """
        check_outputs(out_t, "DynamicConfidence.step", time_major=False)
        acc = scores_acc + out_t if self.accumulate else out_t
        return acc, self.confidence(acc / self.smoothing) > self.threshold


def _is_num(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def predictions(outputs: torch.Tensor, accumulate: bool = True) -> torch.Tensor:
    """Prediction at every step, ``argmax S_t``: (T, B, C) -> (T, B)."""
    check_outputs(outputs, "predictions")
    return (outputs.cumsum(0) if accumulate else outputs).argmax(-1)


def fixed_latency_accuracy(outputs: torch.Tensor, labels: torch.Tensor, accumulate: bool = True) -> torch.Tensor:
    """Accuracy when every sample runs exactly t steps, for t = 1..T: (T,) floats."""
    correct = predictions(outputs, accumulate) == labels.to(outputs.device).unsqueeze(0)
    return correct.float().mean(1)


def oracle(
    outputs: torch.Tensor,
    labels: torch.Tensor,
    mode: str = "earliest",
    accumulate: bool = True,
    t_max: Optional[int] = None,
) -> ExitDecision:
    """The oracle exit: per sample, the earliest step that gets it right (an upper bound for DC).

    Args:
        outputs: (T, B, C) per-step outputs.
        labels: (B,) true classes.
        mode: "earliest" (the paper's potential: first correct step, so accuracy is the fraction
            of samples correct at any step) or "stable" (first step from which the prediction stays
            correct; accuracy equals the accuracy at T_max).
        accumulate: as in :class:`DynamicConfidence`.
        t_max: step budget (None = T).

    Samples never correct (in the chosen sense) run to T_max and keep their T_max prediction.
    """
    if mode not in ORACLE_MODES:
        raise ConfigError(f"oracle: mode must be one of {ORACLE_MODES}, got {mode!r}")
    check_outputs(outputs, "oracle")
    if labels.shape != outputs.shape[1:2]:
        raise ShapeError(f"oracle: labels must be (B,) = ({outputs.shape[1]},), got {tuple(labels.shape)}")
    T = outputs.shape[0] if t_max is None else min(int(t_max), outputs.shape[0])
    pred = predictions(outputs[:T], accumulate)  # (T, B)
    good = pred == labels.to(pred.device).unsqueeze(0)
    if mode == "stable":
        good = good.flip(0).cumprod(0).flip(0).bool()  # correct here and at every later step
    first = torch.where(good.any(0), good.float().argmax(0), torch.full_like(pred[0], T - 1))
    rows = torch.arange(pred.shape[1], device=pred.device)
    conf = torch.ones(pred.shape[1], device=pred.device)
    return ExitDecision(first + 1, pred[first, rows], conf, T)
