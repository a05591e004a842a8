"""Validation movies (selection never reads test) and the paper's slow-speed prior."""

from __future__ import annotations

import math

import pytest
import torch

from snnlab.apps.motion.model import HDSNN
from snnlab.apps.motion.recipe import recipe_from_dict
from snnlab.apps.motion.train import build_model, class_prior, make_split, run_train
from snnlab.errors import ConfigError


def test_validation_movies_are_their_own(tiny_raw):
    tiny_raw["data"].update(n_valid=3, n_test=3)
    recipe = recipe_from_dict(tiny_raw, "tiny")
    valid, test, train = make_split(recipe, "valid")[0], make_split(recipe, "test")[0], make_split(recipe, "train")[0]
    assert valid.shape == test.shape and not torch.equal(valid, test) and not torch.equal(valid, train[:3])
    assert torch.equal(valid, make_split(recipe, "valid")[0])  # deterministic from seed_valid


def test_no_validation_split_unless_asked(tiny_recipe):
    assert tiny_recipe.data.n_valid == 0
    with pytest.raises(ConfigError, match="no validation movies"):
        make_split(tiny_recipe, "valid")
    with pytest.raises(ConfigError, match="split must be one of"):
        make_split(tiny_recipe, "holdout")


def test_run_reports_validation_and_test_apart(tiny_raw, tmp_path):
    tiny_raw["data"].update(n_train=8, n_valid=2, n_test=2)
    tiny_raw["train"].update(epochs=1)
    result = run_train(recipe_from_dict(tiny_raw, "tiny"), tmp_path, log=lambda line: None)
    assert {"valid_accuracy", "valid_settled_accuracy", "test_accuracy"} <= set(result)


def test_slow_speed_prior_sets_the_initial_log_odds(tiny_raw):
    tiny_raw["movie"].update(label="velocity", speeds=[0.5, 1.0, 2.0])
    tiny_raw["model"].update(speed_prior=1.0)
    recipe = recipe_from_dict(tiny_raw, "tiny")
    p = class_prior(recipe)  # 4 directions x 3 speeds, weights 2 : 1 : 0.5
    assert p.shape == (12,) and float(p.sum()) == pytest.approx(1.0)
    assert float(p[0]) == pytest.approx(2.0 / (4 * 3.5)) and float(p[2]) == pytest.approx(0.5 / (4 * 3.5))
    bias = build_model(recipe).bias.detach()
    assert float(bias[0]) == pytest.approx(math.log(float(p[0]) / (1 - float(p[0]))), rel=1e-5)
    assert bias[0] > bias[1] > bias[2] and torch.equal(bias[:3], bias[3:6])


def test_direction_labels_keep_a_uniform_prior(tiny_raw):
    tiny_raw["model"].update(speed_prior=2.0)
    recipe = recipe_from_dict(tiny_raw, "tiny")
    assert torch.allclose(class_prior(recipe), torch.full((4,), 0.25, dtype=torch.float64))
    assert torch.equal(build_model(recipe).bias.detach(), HDSNN(4).bias.detach())
