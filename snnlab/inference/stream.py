"""Run a multi-step model one step at a time, and drop finished samples from its state.

A model in snnlab takes ``(T, B, ...)`` and returns ``(T, B, ...)``. When its only memory is
the state of its :class:`snnlab.nn.SpikingNeuron` modules (stateless layers wrapped in
:class:`snnlab.nn.TimeDistributed`, neurons in between), switching every neuron to
``step_mode="s"`` makes a call on a one-step chunk ``(1, B, ...)`` continue from the previous
call: the model streams. A neuron in single-step mode keeps ``.state`` as a NamedTuple of flat
``(B * N,)`` tensors whose leading factor is the batch, so finished samples are dropped by
slicing every state tensor by rows (:func:`keep_rows`).

Models with other memory (a time convolution, learnable delays, an encoder that repeats its
input T times) do not stream; :func:`check_streamable` compares the streamed outputs with the
multi-step ones and raises :class:`NotStreamableError` instead of giving wrong answers.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from snnlab.errors import ShapeError
from snnlab.nn.neuron import SpikingNeuron


class NotStreamableError(ShapeError):
    """A model's step-by-step outputs differ from its multi-step outputs."""


def neurons(model: nn.Module) -> list[SpikingNeuron]:
    """Every neuron module inside ``model`` (the stateful parts)."""
    return [m for m in model.modules() if isinstance(m, SpikingNeuron)]


@contextmanager
def streaming(model: nn.Module) -> Iterator[nn.Module]:
    """Switch every neuron of ``model`` to single-step mode with fresh state; restore on exit."""
    cells = neurons(model)
    modes = [m.step_mode for m in cells]
    for m in cells:
        m.step_mode = "s"
        m.reset()
    try:
        yield model
    finally:
        for m, mode in zip(cells, modes):
            m.step_mode = mode
            m.reset()


def reset_state(model: nn.Module) -> None:
    """Forget the state of every neuron (start a new batch of inputs)."""
    for m in neurons(model):
        m.reset()


def keep_rows(model: nn.Module, keep: torch.Tensor, batch: int) -> None:
    """Keep only the samples ``keep`` (row indices into the current batch of ``batch`` rows).

    Raises:
        ShapeError: when a state tensor's size is not a multiple of ``batch``.
    """
    for m in neurons(model):
        if m.state is None:
            continue
        sliced = []
        for tensor in m.state:
            if tensor.numel() % batch:
                raise ShapeError(
                    f"keep_rows: a {type(m).__name__} state of {tensor.numel()} elements does not "
                    f"split into {batch} samples"
                )
            sliced.append(tensor.reshape(batch, -1).index_select(0, keep).reshape(-1))
        m.state = type(m.state)(*sliced)


def step_outputs(model: nn.Module, x_t: torch.Tensor) -> torch.Tensor:
    """One streamed step: ``x_t (B, ...) -> (B, C)`` through the model in single-step mode."""
    out = model(x_t.unsqueeze(0))
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or out.shape[0] != 1:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise NotStreamableError(
            f"streaming: a one-step input (1, B, ...) gave {got}; the model must return "
            "per-step outputs (T, B, C) with T = 1"
        )
    return out[0]


def run_streamed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """All steps one at a time: ``(T, B, ...) -> (T, B, C)`` (no early exit)."""
    with streaming(model):
        return torch.stack([step_outputs(model, x[t]) for t in range(x.shape[0])])


@torch.no_grad()
def check_streamable(model: nn.Module, x: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Raise :class:`NotStreamableError` unless streaming ``x`` (T, B, ...) reproduces ``model(x)``."""
    reset_state(model)
    full = model(x)
    streamed = run_streamed(model, x)
    if full.shape != streamed.shape or not torch.allclose(full, streamed, rtol=rtol, atol=atol):
        err = (full - streamed).abs().max().item() if full.shape == streamed.shape else float("nan")
        raise NotStreamableError(
            f"streaming: step-by-step outputs {tuple(streamed.shape)} differ from the multi-step "
            f"outputs {tuple(full.shape)} (max abs diff {err:.3g}); the model keeps memory "
            "outside its neuron modules, so per-sample early stopping cannot skip its compute"
        )
