"""Training beats chance, the pruning study and its plot, recipe checks and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from snnlab.apps.motion.pruning import half_saturation, run_prune
from snnlab.apps.motion.recipe import load_recipe, recipe_from_dict
from snnlab.apps.motion.train import accuracy, build_model, evaluate, load_model, make_split, run_train, train_model
from snnlab.cli import main
from snnlab.errors import CheckpointError, ConfigError, ShapeError
from snnlab.results import eval_path, stray_results, study_path

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny recipe trained once: (recipe, run folder, train result)."""
    recipe = recipe_from_dict(TINY, "tiny")
    out = tmp_path_factory.mktemp("motion_run")
    return recipe, out, run_train(recipe, out, log=lambda line: None)


def test_training_on_a_tiny_problem_beats_chance_by_far(trained):
    recipe, out, result = trained
    assert result["chance"] == 0.25
    assert result["test_accuracy"] > 0.6, result  # chance 25 %
    assert result["loss_history"][-1] < result["loss_history"][0]
    saved = json.loads(eval_path(out).read_text())
    assert stray_results(out) == []
    assert saved["test_accuracy"] == result["test_accuracy"]
    assert (out / "config.yaml").is_file()


@pytest.mark.slow  # trains a second model (about 30 s on 2 cores)
def test_plain_linear_layer_is_worse_than_the_polarity_invariant_one(trained, tiny_raw):
    """Linear evidence read at every voxel stays near chance (a stationary texture gives every
    direction the same mean evidence); read at event voxels it detects motion, and the
    polarity flip does better still (measured: ~18% / ~75% / ~97%, chance 25%)."""
    _, _, invariant = trained
    accuracies = {}
    for gate in ("events", "all"):
        tiny_raw["model"].update(polarity_invariant=False, gate=gate)
        recipe = recipe_from_dict(tiny_raw, "tiny")
        voxels, labels = make_split(recipe, "train")
        model = build_model(recipe)
        train_model(model, voxels, labels, recipe.train, recipe.model.gate, recipe.settle)
        accuracies[gate] = evaluate(model, *make_split(recipe, "test"), recipe)["accuracy"]
    assert accuracies["all"] < 0.4 < accuracies["events"] < invariant["test_accuracy"] - 0.1, (accuracies, invariant)


def test_untrained_layer_is_near_chance(tiny_recipe):
    voxels, labels = make_split(tiny_recipe, "test")
    assert evaluate(build_model(tiny_recipe), voxels, labels, tiny_recipe)["accuracy"] < 0.45


def test_checkpoint_round_trip_and_mismatch(trained, tiny_raw):
    recipe, out, result = trained
    model = load_model(recipe, out / "model.pt")
    voxels, labels = make_split(recipe, "test")
    assert evaluate(model, voxels, labels, recipe)["accuracy"] == pytest.approx(result["test_accuracy"])
    tiny_raw["model"]["kernel_t"] = 4
    with pytest.raises(CheckpointError, match="different 'model' section"):
        load_model(recipe_from_dict(tiny_raw), out / "model.pt")


def test_pruning_curve_is_monotone_ish_and_plot_is_written(trained):
    recipe, out, _ = trained
    result = run_prune(recipe, out, log=lambda line: None)
    rows = result["pruning"]
    assert [r["fraction"] for r in rows] == recipe.prune.fractions
    assert rows[0]["n_synapses"] == result["n_synapses_full"] > rows[-1]["n_synapses"] >= 1
    accs = [r["accuracy"] for r in rows]
    assert all(later <= earlier + 0.05 for earlier, later in zip(accs, accs[1:]))  # fewer synapses: no better
    assert accs[0] > accs[-1]
    short = result["shortening"]
    assert [r["n_delays"] for r in short] == list(range(recipe.model.kernel_t, 0, -1))
    assert short[0]["accuracy"] == pytest.approx(accs[0])
    png = Path(result["plot"])
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    assert json.loads(study_path(out, "prune").read_text())["pruning"] == rows
    assert stray_results(out) == []


def test_half_saturation_interpolates_on_a_log_axis():
    rows = [
        {"n_synapses": 1000, "accuracy": 0.9},
        {"n_synapses": 100, "accuracy": 0.7},
        {"n_synapses": 10, "accuracy": 0.1},
    ]
    assert half_saturation(rows, chance=0.1) == pytest.approx(100 * 10 ** -(0.2 / 0.6))
    assert half_saturation(rows[:2], chance=0.1) is None


def test_accuracy_counts_only_settled_steps_when_asked():
    labels = torch.tensor([[0, 0, 0, 1, 1, 1]])
    prediction = torch.tensor([[0, 0, 0, 0, 1, 1]])  # wrong only on the first step after the change
    assert accuracy(prediction, labels) == pytest.approx(5 / 6)
    assert accuracy(prediction, labels, warmup=1, settle=1) == 1.0


def test_accuracy_and_training_reject_mismatched_shapes(tiny_recipe):
    with pytest.raises(ShapeError, match="differ in shape"):
        accuracy(torch.zeros(2, 5), torch.zeros(2, 6))
    model = build_model(tiny_recipe)
    with pytest.raises(ShapeError, match="movies"):
        train_model(model, torch.zeros(3, 2, 40, 16, 16), torch.zeros(2, 40, dtype=torch.long), tiny_recipe.train)


@pytest.mark.parametrize(
    "change, message",
    [
        (("movie", "sigma", 0.0), "movie.sigma must be > 0"),
        (("model", "kernel_t", 50), "exceeds movie.n_steps"),
        (("model", "kernel_xy", 4), "odd"),
        (("prune", "fractions", [0.5, 1.5]), r"\(0, 1\]"),
        (("train", "lr", -1.0), "lr"),
        (("model", "delays", 3), "unknown key"),
        (("model", "gate", "spikes"), "model.gate must be one of"),
        (("train", "lr_schedule", "step"), "train.lr_schedule"),
        (("train", "l1", -1e-3), "train.l1 must be >= 0"),
        (("train", "settle", 40), "train.settle must lie in"),
        (("train", "samples_per_movie", 0), "train.samples_per_movie must be > 0"),
    ],
)
def test_recipe_errors_name_the_field(tiny_raw, change, message):
    section, key, value = change
    tiny_raw[section][key] = value
    with pytest.raises(ConfigError, match=message):
        recipe_from_dict(tiny_raw, "tiny")


def test_shipped_recipe_parses_with_overrides():
    recipe = load_recipe(ROOT / "experiments" / "motion_hd.yaml", ["train.epochs=1", "movie.label=velocity"])
    assert recipe.name == "motion_hd" and recipe.train.epochs == 1
    assert recipe.movie.n_classes == recipe.movie.n_directions * len(recipe.movie.speeds)
    assert recipe.model.polarity_invariant


def test_cli_train_then_prune_writes_the_run_folder(tmp_path, capsys):
    config = ROOT / "experiments" / "motion_hd.yaml"
    tiny = [
        "movie.size=12",
        "movie.n_steps=20",
        "movie.n_directions=4",
        "data.n_train=4",
        "data.n_test=2",
        "model.kernel_t=4",
        "model.kernel_xy=3",
        "train.epochs=1",
        "prune.fractions=[1.0,0.1]",
    ]
    args = [a for item in tiny for a in ("--set", item)] + ["--out", str(tmp_path / "run")]
    assert main(["motion", "train", str(config), *args]) == 0
    assert main(["motion", "prune", str(config), *args]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "half-saturation" in out
    assert (tmp_path / "run" / "plots" / "pruning.png").is_file()


@pytest.mark.parametrize(
    "override, message",
    [
        ("movie.sigma=-1", "movie.sigma must be > 0"),
        ("model.kernel_t=0", "model.kernel_t must be > 0"),
        ("movie.speeds=[]", "movie.speeds"),
        ("train.epochs=two", "train.epochs: expected int"),
    ],
)
def test_cli_bad_input_prints_one_line(capsys, override, message):
    config = ROOT / "experiments" / "motion_hd.yaml"
    assert main(["motion", "train", str(config), "--set", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err


def test_cli_missing_recipe_is_one_line(capsys, tmp_path):
    assert main(["motion", "prune", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
