"""Early stopping that actually skips compute: a step-wise runner over a streamed model.

:class:`EarlyExitRunner` feeds a batch one step at a time (see :mod:`snnlab.inference.stream`),
applies :meth:`DynamicConfidence.step` to the accumulated output, and removes samples that are
confident from the active batch (their rows of the input and of every neuron state), so the
next steps run on fewer rows. With ``early_exit=False`` the same loop runs every sample to
T_max: the fair baseline for wall time and operation counts. Its decisions equal the post hoc
:meth:`DynamicConfidence.decide` on the multi-step outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Optional

import torch
from torch import nn

from snnlab.analysis.hooks import ActivityRecorder
from snnlab.errors import ShapeError
from snnlab.inference.confidence import DynamicConfidence, ExitDecision
from snnlab.inference.stream import keep_rows, step_outputs, streaming
from snnlab.ir.activity import ActivityProfile


@dataclass
class RunStats:
    """Outcome of a step-wise run: decisions, wall time and (optionally) activity counts."""

    decision: ExitDecision
    wall_s: float  # seconds of model compute and decision, all batches
    profile: Optional[ActivityProfile] = None  # totals over all samples, when counted
    labels: Optional[torch.Tensor] = None  # (N,) when run over a loader

    @property
    def synaptic_ops(self) -> float:
        """Effective synaptic operations per sample (MACs + ACs), or NaN when not counted."""
        if self.profile is None:
            return float("nan")
        totals = self.profile.totals()
        return (totals["macs"] + totals["acs"]) / max(self.profile.samples, 1)


def _concat(decisions: list[ExitDecision]) -> ExitDecision:
    return ExitDecision(
        torch.cat([d.exit_step for d in decisions]),
        torch.cat([d.prediction for d in decisions]),
        torch.cat([d.confidence for d in decisions]),
        max(d.t_max for d in decisions),
    )


class EarlyExitRunner:
    """Run a model with per-sample early exit.

    Args:
        model: a streamable model, ``(T, B, ...) -> (T, B, C)`` per-step outputs.
        rule: the decision rule (threshold, smoothing, T_max).
        count: record synaptic operations and spikes (forward hooks; small overhead).
    """

    def __init__(self, model: nn.Module, rule: DynamicConfidence, count: bool = False) -> None:
        self.model = model
        self.rule = rule
        self.count = count
        self._counter: Optional[ActivityRecorder] = None

    @torch.no_grad()
    def run_batch(self, x: torch.Tensor, early_exit: bool = True) -> ExitDecision:
        """One batch ``x (T, B, ...)``; finished samples stop costing compute."""
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ShapeError(f"EarlyExitRunner: expected input (T, B, ...), got {getattr(x, 'shape', type(x))}")
        T, B = self.rule.budget(x.shape[0]), x.shape[1]
        exit_step = torch.full((B,), T, dtype=torch.long)
        pred = torch.zeros(B, dtype=torch.long)
        conf = torch.zeros(B)
        active = torch.arange(B, device=x.device)
        acc: Optional[torch.Tensor] = None
        with streaming(self.model):
            for t in range(T):
                if self._counter is not None:
                    self._counter.batch = active.numel()
                out = step_outputs(self.model, x[t].index_select(0, active))  # (A, C)
                acc, done = self.rule.step(torch.zeros_like(out) if acc is None else acc, out)
                done = done & early_exit if t < T - 1 else torch.ones_like(done)
                self._record(done, active, acc, t, (exit_step, pred, conf))
                keep = (~done).nonzero().squeeze(1)
                if keep.numel() == 0:
                    break
                if keep.numel() < active.numel():
                    keep_rows(self.model, keep, active.numel())
                    acc, active = acc.index_select(0, keep), active.index_select(0, keep)
        return ExitDecision(exit_step, pred, conf, T)

    def _record(
        self,
        done: torch.Tensor,
        active: torch.Tensor,
        acc: torch.Tensor,
        t: int,
        into: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    ) -> None:
        """Write exit step, prediction and confidence of the samples finishing at step ``t``."""
        if not bool(done.any()):
            return
        rows = active[done].cpu()
        exit_step, pred, conf = into
        exit_step[rows] = t + 1
        pred[rows] = acc[done].argmax(-1).cpu()
        conf[rows] = self.rule.confidence(acc[done] / self.rule.smoothing).cpu()

    def run(self, batches: Iterable, early_exit: bool = True, device: Optional[torch.device] = None) -> RunStats:
        """Every ``(x (T, B, ...), y (B,))`` of ``batches``; timed, and counted when ``count``.

        Args:
            batches: a data loader or any iterable of (inputs, labels) pairs.
            early_exit: False runs every sample to T_max (the baseline).
            device: where to put inputs; default the model's parameters' device.
        """
        device = device or model_device(self.model)
        decisions, labels, samples, wall, T = [], [], 0, 0.0, 1
        counter = ActivityRecorder(self.model) if self.count else None
        self._counter = counter
        try:
            if counter is not None:
                counter.__enter__()
            for x, y in batches:
                x = x.to(device)
                start = time.perf_counter()
                decisions.append(self.run_batch(x, early_exit))
                wall += time.perf_counter() - start
                labels.append(torch.as_tensor(y).cpu())
                samples += x.shape[1]
                T = max(T, decisions[-1].t_max)
        finally:
            if counter is not None:
                counter.__exit__(None, None, None)
            self._counter = None
        if not decisions:
            raise ShapeError("EarlyExitRunner.run: no batches were given")
        profile = counter.profile(samples, T) if counter is not None else None
        return RunStats(_concat(decisions), wall, profile, torch.cat(labels))


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def collect_outputs(
    model: nn.Module, batches: Iterable, device: Optional[torch.device] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense multi-step outputs of every batch: ``(T, N, C)`` and labels ``(N,)``.

    Batches of different lengths are padded at the end with zero outputs, which leave the
    accumulated output (and so the decision) unchanged.
    """
    device = device or model_device(model)
    outs, labels = [], []
    for x, y in batches:
        out = model(x.to(device))
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ShapeError(f"collect_outputs: the model must return per-step outputs (T, B, C), got {got}")
        outs.append(out.float().cpu())
        labels.append(torch.as_tensor(y).cpu())
    if not outs:
        raise ShapeError("collect_outputs: no batches were given")
    T = max(o.shape[0] for o in outs)
    padded = [torch.cat([o, o.new_zeros(T - o.shape[0], *o.shape[1:])]) for o in outs]
    return torch.cat(padded, 1), torch.cat(labels)
