"""The delay recipes read SHD/SSC as the paper did and select best.pt off the test file."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnlab.train.config import load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("recipe", ["shd_delays.yaml", "ssc_delays.yaml"])
def test_delay_recipes_default_to_the_papers_frames(recipe):
    cfg = load_config(ROOT / "experiments" / recipe)
    assert cfg.data.options["framing"] == "events" and cfg.data.options["dt"] == 0.01
    grid = load_config(ROOT / "experiments" / recipe, ["data.options.framing=grid"])
    assert grid.data.options["framing"] == "grid"


def test_ssc_selects_best_pt_on_its_valid_file():
    cfg = load_config(ROOT / "experiments" / "ssc_delays.yaml")
    assert cfg.data.valid_split == "valid" and cfg.run.monitor == "valid_acc"
