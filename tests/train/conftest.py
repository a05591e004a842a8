"""Fixtures for training tests: tiny recipes on the embedded digits that train in seconds."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

TINY: dict[str, Any] = {
    "data": {"name": "digits", "batch_size": 16, "eval_batch_size": 64, "limit_train": 64, "limit_test": 48,
             "options": {"n_time_bins": 8}},
    "model": {"name": "mlp_snn", "hidden": [24], "tau": 2.0},
    "train": {"epochs": 2, "seed": 0, "deterministic": True,
              "optimizers": [{"name": "adam", "lr": 5.0e-3, "scheduler": {"name": "cosine"}}]},
    "run": {"name": "tiny", "progress": False},
}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict update returning a new dict."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_recipe(folder: Path, extra: dict[str, Any] | None = None, name: str = "tiny.yaml") -> Path:
    """Write the tiny recipe (updated with ``extra``) with ``run.out_dir`` inside ``folder``."""
    recipe = merge(TINY, {"run": {"out_dir": str(folder / "runs")}})
    recipe = merge(recipe, extra or {})
    path = folder / name
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    """Path of the tiny digits recipe, writing its run under ``tmp_path/runs``."""
    return write_recipe(tmp_path)
