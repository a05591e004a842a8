"""Tiny motion recipes shared by the motion tests."""

from __future__ import annotations

import pytest

from snnlab.apps.motion.recipe import MotionRecipe, recipe_from_dict

TINY = {
    "name": "motion_tiny",
    "movie": {"size": 16, "n_steps": 40, "n_directions": 4, "speeds": [1.0], "threshold": 0.5},
    "data": {"n_train": 48, "n_test": 8},
    "model": {"kernel_t": 5, "kernel_xy": 5, "polarity_invariant": True},
    "train": {"epochs": 8, "batch": 4, "lr": 1.0e-2},
    "prune": {"fractions": [1.0, 0.3, 0.1, 0.03, 0.01]},
}


@pytest.fixture
def tiny_raw() -> dict:
    """The tiny recipe as a mapping (a fresh copy for each test)."""
    import copy

    return copy.deepcopy(TINY)


@pytest.fixture
def tiny_recipe(tiny_raw: dict) -> MotionRecipe:
    """A recipe small enough to train in seconds on two CPU cores."""
    return recipe_from_dict(tiny_raw, "tiny")
