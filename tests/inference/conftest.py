"""Fixtures for early-exit tests: hand-made per-step outputs and a small trained model."""

from __future__ import annotations

import pytest
import torch

from snnlab.models import create_model


def ramp_outputs(targets: list[int], onsets: list[int], T: int = 10, C: int = 3, gain: float = 10.0) -> torch.Tensor:
    """Per-step outputs (T, B, C): sample b outputs ``gain`` for class ``targets[b]`` from step ``onsets[b]`` (1-based)."""
    out = torch.zeros(T, len(targets), C)
    for b, (c, t0) in enumerate(zip(targets, onsets)):
        out[t0 - 1 :, b, c] = gain
    return out


@pytest.fixture
def ramp():
    """The :func:`ramp_outputs` factory."""
    return ramp_outputs


@pytest.fixture
def small_snn() -> torch.nn.Module:
    """An untrained spiking MLP with an LI readout (the demo's family), in eval mode."""
    torch.manual_seed(0)
    model = create_model("mlp_snn", in_features=12, num_classes=4, hidden=(24,), batch_norm=True, backend="torch")
    return model.eval()


@pytest.fixture
def spike_input() -> torch.Tensor:
    """Random input currents (T=10, B=9, 12 features)."""
    return torch.rand(10, 9, 12, generator=torch.Generator().manual_seed(1)) * 3.0
