"""Readout training, recipes (keys, types, overrides, fit on the macro) and frame preparation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from snnlab.apps.lsm.recipe import LSMData, Readout, read_recipe, recipe_from_dict
from snnlab.apps.lsm.reservoir import LiquidStateMachine, LSMConfig
from snnlab.apps.lsm.tasks import accuracy, evaluate_lsm, prepare, train_readout
from snnlab.errors import ConfigError

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"


def test_readout_learns_gaussian_blobs():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3
    f = torch.randn(300, 20, generator=gen) + 5.0 * torch.nn.functional.one_hot(y, 20).float()
    model = train_readout(f[:200], y[:200], 3, Readout(lr=1e-2, epochs=30, batch=32))
    assert accuracy(model, f[200:], y[200:]) > 0.95


def test_rram_reservoir_separates_a_tiny_problem(separable_splits):
    lsm = LiquidStateMachine(LSMConfig(n_inputs=16, n_reservoir=40, hardware="rram_40nm", seed=0))
    result = evaluate_lsm(lsm, separable_splits, Readout(lr=1e-2, epochs=40, batch=20))
    assert result["test_accuracy"] >= 0.9 and result["firing_rate"] > 0
    assert result["energy_per_inference_pj"]["rram_total_pj"] > 0


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"f\.yaml: readout: unknown key\(s\) \['epoch'\]; valid: hidden, lr, epochs"):
        recipe_from_dict({"readout": {"epoch": 3}}, "f.yaml")
    with pytest.raises(ConfigError, match=r"lsm: unknown key\(s\) \['neurons'\]; valid: n_reservoir"):
        recipe_from_dict({"lsm": {"neurons": 3}}, "f.yaml")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['model'\]; valid: name, data, lsm, readout, study"):
        recipe_from_dict({"model": {}}, "f.yaml")


def test_overrides_are_dotted_and_type_checked(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data: {name: digits}\nlsm: {n_reservoir: 50}\nreadout: {epochs: 5}\n")
    raw = read_recipe(
        path, ["lsm.hardware=rram_40nm", "readout.epochs=20", "data.limit=200", "lsm.device_overrides.read_noise=0.1"]
    )
    recipe = recipe_from_dict(raw, path.name)
    assert recipe.name == "r" and recipe.readout.epochs == 20 and recipe.data.limit == 200
    assert recipe.lsm == {"n_reservoir": 50, "hardware": "rram_40nm", "device_overrides": {"read_noise": 0.1}}
    for bad, words in (
        ("readout.epochs=many", "readout.epochs: expected int"),
        ("lsm.threshold=high", "lsm.threshold: expected float"),
        ("noequals", "key=value"),
    ):
        with pytest.raises(ConfigError, match=words):
            recipe_from_dict(read_recipe(path, [bad]), path.name)


@pytest.mark.parametrize("name, n_inputs", [("lsm_digits", 256), ("nmnist_lsm", 256), ("ntidigits_lsm", 64)])
def test_shipped_recipes_parse_and_fit_the_macro(name, n_inputs):
    recipe = recipe_from_dict(read_recipe(EXPERIMENTS / f"{name}.yaml"), name)
    for hardware in (None, "rram_40nm"):
        lsm = LiquidStateMachine(LSMConfig(n_inputs=n_inputs, **{**recipe.lsm, "hardware": hardware}))
        assert lsm.weight.shape == (n_inputs + recipe.lsm.get("n_reservoir", 200), lsm.cfg.n_reservoir)


def test_prepare_crops_and_merges_polarities():
    x = torch.zeros(3, 2, 2, 34, 34)
    x[:, :, 1, 17, 17] = 1.0  # OFF event at the centre
    out = prepare(x, LSMData(name="nmnist", crop=16))
    assert out.shape == (3, 2, 256) and out.sum() == 6 and out[0, 0, 8 * 16 + 8] == 1
    assert prepare(x, LSMData(crop=16, merge_polarity=False)).shape == (3, 2, 512)
    with pytest.raises(ConfigError, match="crop"):
        prepare(x, LSMData(crop=40))
