"""Fixtures for CLI tests: a tiny digits recipe that trains in a few seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture
def cli_recipe(tmp_path: Path) -> Path:
    """A 2-epoch recipe on 64 digits, writing ``tmp_path/runs/cli``."""
    recipe = {
        "data": {
            "name": "digits",
            "batch_size": 16,
            "limit_train": 64,
            "limit_test": 32,
            "options": {"n_time_bins": 8},
        },
        "model": {"name": "mlp_snn", "hidden": [16]},
        "train": {"epochs": 2, "deterministic": True},
        "run": {"name": "cli", "out_dir": str(tmp_path / "runs"), "progress": False},
    }
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path
