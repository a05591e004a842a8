"""``snnlab eval RUN --early-exit``: the threshold is chosen on the validation split, never on test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnlab.cli import main
from snnlab.results import stray_results


def _train(recipe: Path, *overrides: str) -> Path:
    sets = [a for o in overrides for a in ("--set", o)]
    assert main(["train", str(recipe), *sets]) == 0
    return recipe.parent / "runs" / "cli"


def test_early_exit_without_a_validation_split_is_refused(cli_recipe: Path, capsys: pytest.CaptureFixture) -> None:
    run = _train(cli_recipe)
    assert main(["eval", str(run), "--early-exit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "valid_split" in err[0] and "never on 'test'" in err[0]


def test_early_exit_calibrates_on_valid_and_prints_its_result(cli_recipe: Path, capsys: pytest.CaptureFixture) -> None:
    run = _train(cli_recipe, "data.valid_split=valid", "data.train_options.holdout_valid=true")
    capsys.readouterr()
    assert main(["eval", str(run), "--early-exit", "--threshold", "0.6"]) == 0
    out = capsys.readouterr().out
    report = json.loads((run / "early_exit.json").read_text())
    assert report["split"]["calibration_split"] == "valid" and report["split"]["reported"] == 32
    assert report["threshold"] == 0.6 and report["rule"] == {"fixed_threshold": 0.6}
    assert stray_results(run) == []
    assert (
        "early exit (threshold 0.6 fixed; validation sweep on 144 'valid' samples)" in out and "early_exit.json" in out
    )
    assert f"mean latency {report['mean_latency']:.2f} of {report['t_max']} steps" in out  # latency and accuracy named
    assert f"accuracy {report['accuracy']:.2%}" in out
