"""Inference-time methods: dynamic-confidence early exit (Li, Jones and Furber, ICCV 2023).

- :class:`DynamicConfidence`: the decision rule, post hoc on ``(T, B, C)`` or step by step.
- :func:`calibrate`, :func:`sweep`, :func:`pareto_front`, :func:`oracle`: choosing a threshold.
- :class:`EarlyExitRunner`: per-sample early stopping that skips the compute of finished samples.
- :func:`run_simulator`: the same in the event-driven simulator's streaming mode.
- :func:`run_for_eval`: what ``snnlab eval RUN --early-exit`` runs.
"""

from __future__ import annotations

from typing import Any

from snnlab.inference.calibrate import Calibration, SweepPoint, calibrate, choose, pareto_front, sweep
from snnlab.inference.confidence import DynamicConfidence, ExitDecision, fixed_latency_accuracy, oracle, predictions
from snnlab.inference.runner import EarlyExitRunner, RunStats, collect_outputs
from snnlab.inference.sim_exit import SimExitResult, run_simulator
from snnlab.inference.stream import NotStreamableError, check_streamable, run_streamed

__all__ = [
    "Calibration",
    "DynamicConfidence",
    "EarlyExitRunner",
    "ExitDecision",
    "NotStreamableError",
    "RunStats",
    "SimExitResult",
    "SweepPoint",
    "calibrate",
    "check_streamable",
    "choose",
    "collect_outputs",
    "fixed_latency_accuracy",
    "oracle",
    "pareto_front",
    "predictions",
    "run_for_eval",
    "run_simulator",
    "run_streamed",
    "sweep",
]


def __getattr__(name: str) -> Any:
    # The eval entry point pulls in plotting and hardware code; import it on first use.
    if name == "run_for_eval":
        from snnlab.inference.early_exit import run_for_eval

        return run_for_eval
    raise AttributeError(f"module 'snnlab.inference' has no attribute {name!r}")
