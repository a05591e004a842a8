"""Bad recipe input of the apps (``snnlab lsm``, ``snnlab motion``): one line, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnlab.cli import main

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

CASES = [
    (["motion", "train", "motion_hd.yaml", "--set", "data.seed_valid=1"], "data seeds must differ"),
    (["motion", "train", "motion_hd.yaml", "--set", "data.n_valid=-1"], "data.n_valid must be >= 0"),
    (["motion", "train", "motion_hd.yaml", "--set", "model.speed_prior=-1"], "model.speed_prior must be >= 0"),
    (["motion", "train", "motion_hd.yaml", "--set", "data.n_valid=many"], "data.n_valid: expected int"),
    (
        ["lsm", "zeroshot", "lsm_zeroshot_digits.yaml", "--set", "retrieval=nearest"],
        "retrieval: 'nearest' is not valid; valid: sample, prototype",
    ),
    (["lsm", "zeroshot", "lsm_zeroshot_digits.yaml", "--set", "image_lsm=3"], "image_lsm: expected a mapping"),
    (["lsm", "run", "lsm_digits.yaml", "--set", "readout.batch=0"], "readout.batch must be >= 1"),
    (["lsm", "run", "lsm_digits.yaml", "--set", "lsm.decay=1.5"], "decay"),
]


@pytest.mark.parametrize("argv, words", CASES)
def test_bad_app_recipes_are_one_line(argv, words, tmp_path, capsys):
    command, action, recipe, *rest = argv
    assert main([command, action, str(EXPERIMENTS / recipe), *rest, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
