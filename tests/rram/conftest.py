"""Fixtures of the RRAM LSM tests: a small macro, separable event data, an N-TIDIGITS file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from snnlab.data.ntidigits import write_ntidigits
from snnlab.hw import rram


@pytest.fixture
def device() -> rram.RRAMDevice:
    """The nominal device of the rram_40nm profile."""
    return rram.load_macro("rram_40nm").device


@pytest.fixture
def macro() -> rram.RRAMMacro:
    """The rram_40nm macro."""
    return rram.load_macro("rram_40nm")


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


@pytest.fixture
def ntidigits_file(tmp_path: Path) -> Path:
    """A tiny file in the published N-TIDIGITS layout: single digits, one sequence, 2 s recordings."""
    rng = np.random.default_rng(0)

    def sample(sid: str, channel: int):
        ch = np.concatenate([np.full(30, channel), rng.integers(0, 64, 10)])
        ts = np.sort(rng.uniform(0.0, 2.0, ch.size))
        return sid, ch, ts

    items = [sample("man-ae-o", 5), sample("man-ae-z", 10), sample("woman-af-3", 20), sample("man-ag-19z", 1)]
    path = tmp_path / "n-tidigits.hdf5"
    write_ntidigits(path, {"train": items, "test": items[:2]})
    return path
