"""Dynamic Confidence in the event-driven simulator's streaming mode.

:func:`run_simulator` advances a :class:`snnlab.sim.Simulator` one step at a time
(``sim.reset(batch)``, ``sim.step(input_t)``), feeds each step's output-layer values to
:meth:`DynamicConfidence.step` and stops samples as they become confident. The simulator's
engine keeps one state array for the whole batch, so a finished sample is masked rather than
removed: from its exit on it receives no input events (an event-driven simulator does no
synaptic work for absent events) and its decision is frozen. The loop ends when every sample
has exited or at T_max.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from snnlab.errors import ShapeError
from snnlab.inference.confidence import DynamicConfidence, ExitDecision


@dataclass
class SimExitResult:
    """Decisions of a streamed simulation, with the input events actually delivered."""

    decision: ExitDecision
    input_events: int  # non-zero input entries fed to the simulator
    input_events_full: int  # the same without early exit (all steps up to T_max)
    steps_run: int  # simulator steps advanced (the slowest sample's exit)


def _as_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def run_simulator(sim: Any, inputs: Any, rule: DynamicConfidence) -> SimExitResult:
    """Stream ``inputs`` (T, B, *input_shape) through ``sim`` with per-sample early exit.

    Args:
        sim: a :class:`snnlab.sim.Simulator` whose (single) Output node gives the output layer.
        inputs: dense input frames, numpy or torch.
        rule: the decision rule.

    Raises:
        ShapeError: when the input is not (T, B, ...) or the output is not (B, C) with C >= 2.
    """
    x = _as_numpy(inputs)
    if x.ndim < 2:
        raise ShapeError(f"run_simulator: expected inputs (T, B, ...), got {x.shape}")
    T, B = rule.budget(x.shape[0]), x.shape[1]
    sim.reset(B)
    active = np.ones(B, dtype=bool)
    acc = exit_step = None
    events = 0
    for t in range(T):
        frame = x[t] * active.reshape(B, *([1] * (x.ndim - 2)))
        events += int(np.count_nonzero(frame))
        out_t = torch.as_tensor(np.asarray(sim.step(frame), dtype=np.float64)).reshape(B, -1).float()
        if acc is None:
            acc, exit_step = torch.zeros_like(out_t), torch.full((B,), T, dtype=torch.long)
        new_acc, done = rule.step(acc, out_t)
        live = torch.as_tensor(active)
        acc = torch.where(live.unsqueeze(1), new_acc, acc)  # frozen after exit
        finished = done & live & (t < T - 1)
        exit_step[finished] = t + 1
        active &= ~finished.numpy()
        if not active.any():
            break
    pred = acc.argmax(-1)
    conf = rule.confidence(acc / rule.smoothing)
    full = int(np.count_nonzero(x[:T]))
    return SimExitResult(ExitDecision(exit_step, pred, conf, T), events, full, t + 1)
