"""Fixtures of the LSM tests: separable event data."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def separable_events(n_per_class: int, n_inputs: int = 16, steps: int = 20, seed: int = 0):
    """Two classes of binary event streams driving disjoint halves of the inputs: ``(T, N, n)``, ``(N,)``."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per_class)
    rate = np.full((2 * n_per_class, n_inputs), 0.02)
    half = n_inputs // 2
    rate[y == 0, :half], rate[y == 1, half:] = 0.5, 0.5
    x = rng.random((steps, 2 * n_per_class, n_inputs)) < rate[None]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


@pytest.fixture
def separable_splits():
    """Train/test splits of :func:`separable_events`."""
    return {"train": separable_events(40, seed=1), "test": separable_events(20, seed=2)}
