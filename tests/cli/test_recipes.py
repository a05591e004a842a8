"""Recipes ship with the package: ``snnlab recipes`` lists them and ``train NAME`` / ``demo`` use them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_recipes_are_the_repository_ones():
    from snnlab.commands._recipes import list_recipes

    recipes = list_recipes()
    assert {"demo_digits", "shd_delays", "nmnist_conv"} <= set(recipes)
    assert {p.name for p in (ROOT / "experiments").glob("*.yaml")} == {p.name for p in recipes.values()}


def test_recipes_command_lists_names_and_descriptions(capsys):
    from snnlab.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("demo_digits "))
    assert "snnlab demo" in line  # the recipe's own first comment line
    assert "recipes in" in out.splitlines()[-1]


def test_demo_ignores_a_recipe_file_in_the_working_folder(tmp_path, monkeypatch):
    from snnlab.commands.demo import _recipe_path

    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "demo_digits.yaml").write_text("train: {epochs: 999}\n")
    monkeypatch.chdir(tmp_path)
    path = _recipe_path()
    assert path.resolve() != (tmp_path / "experiments" / "demo_digits.yaml").resolve()
    assert "epochs: 8" in path.read_text()


def test_train_by_name_and_by_experiments_path_outside_a_checkout(tmp_path, monkeypatch):
    from snnlab.commands._recipes import resolve_recipe

    monkeypatch.chdir(tmp_path)
    assert resolve_recipe("demo_digits").name == "demo_digits.yaml"
    assert resolve_recipe("experiments/demo_digits.yaml").is_file()
    (tmp_path / "mine.yaml").write_text("run: {name: x}\n")
    assert resolve_recipe("mine.yaml") == Path("mine.yaml")  # a file of the user's wins over a name


def test_unknown_recipe_name_lists_the_valid_ones(capsys, tmp_path, monkeypatch):
    from snnlab.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "demo_digit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "demo_digits" in err[0] and "snnlab recipes" in err[0]


def test_demo_says_what_runs_after_training(capsys, tmp_path):
    """Every stage after training is announced before it runs (some take seconds)."""
    import argparse

    from snnlab.commands import demo

    ran = []

    def stage_sim_check(ctx):
        """Simulate model.nir event-driven on test samples. More text."""
        ran.append("sim")

    args = argparse.Namespace(out=str(tmp_path), epochs=None, overrides=[])
    assert demo.run(args, stages=[stage_sim_check]) == 0
    assert ran == ["sim"]
    assert capsys.readouterr().out.splitlines() == [
        "[demo] sim check: Simulate model.nir event-driven on test samples ..."
    ]
