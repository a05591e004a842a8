"""Device studies (sweeps, plots, energy) and the ``snnlab lsm`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnlab.apps.lsm.recipe import recipe_from_dict
from snnlab.apps.lsm.studies import plot_energy, plot_sweeps, run_study, study_markdown
from snnlab.cli import main
from snnlab.results import eval_path, stray_results

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
TINY = ["--set", "data.limit=60", "--set", "lsm.n_reservoir=20", "--set", "readout.epochs=3"]


def test_study_sweeps_and_plots(separable_splits, tmp_path):
    recipe = recipe_from_dict(
        {
            "lsm": {"n_reservoir": 30, "device_overrides": {"read_noise": 0.0}},
            "readout": {"lr": 1e-2, "epochs": 20, "batch": 20},
            "study": {"g_std_us": [0.01, 15.0], "read_noise": [], "stuck_at": [0.1]},
        }
    )
    lines: list[str] = []
    study = run_study(recipe, separable_splits, log=lines.append)
    assert len(lines) == 4 and study["hardware"] == "rram_40nm"
    quiet, nominal = study["sweeps"]["g_std_us"]
    assert quiet["firing_rate"] == 0 and quiet["test_accuracy"] <= 0.6  # no spread, no random weights
    assert nominal["test_accuracy"] >= 0.9 and study["baseline"]["software"] >= 0.9
    assert study["energy"]["efficiency_gain"] > 1
    assert plot_sweeps(study, tmp_path / "p" / "robust.png").stat().st_size > 1000
    assert plot_energy(study["energy"], tmp_path / "p" / "energy.png").stat().st_size > 1000
    assert "| 0.01 | " in study_markdown(study)


def test_cli_run_writes_results(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "lsm",
            "run",
            str(EXPERIMENTS / "lsm_digits.yaml"),
            *TINY,
            "--set",
            "lsm.hardware=rram_40nm",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    result = json.loads(eval_path(out).read_text())
    assert stray_results(out) == []
    assert result["hardware"] == "rram_40nm" and result["n_test"] == 60 and result["lsm"]["n_reservoir"] == 20
    assert (out / "config.yaml").is_file()
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--set", "readout.epochs=ten"], "lsm_digits.yaml: readout.epochs: expected int"),
        (["--set", "lsm.n_neurons=3"], "valid: n_reservoir"),
        (
            ["--set", "lsm.n_reservoir=400", "--set", "lsm.hardware=rram_40nm", "--set", "data.limit=2"],
            "rows x 800 columns",
        ),
    ],
)
def test_cli_errors_are_one_line(argv, words, tmp_path, capsys):
    assert main(["lsm", "run", str(EXPERIMENTS / "lsm_digits.yaml"), *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_cli_zeroshot_and_study_small(tmp_path):
    assert (
        main(
            [
                "lsm",
                "zeroshot",
                str(EXPERIMENTS / "lsm_zeroshot_digits.yaml"),
                "--set",
                "epochs=2",
                "--set",
                "limit=300",
                "--out",
                str(tmp_path / "zs"),
            ]
        )
        == 0
    )
    assert "scan_to_image_top1_unseen" in json.loads(eval_path(tmp_path / "zs").read_text())
    assert stray_results(tmp_path / "zs") == []
    assert (
        main(
            [
                "lsm",
                "study",
                str(EXPERIMENTS / "lsm_digits.yaml"),
                *TINY,
                "--set",
                "study.g_std_us=[15]",
                "--set",
                "study.read_noise=[0.1]",
                "--set",
                "study.stuck_at=[0.1]",
                "--out",
                str(tmp_path / "st"),
            ]
        )
        == 0
    )
    assert (tmp_path / "st" / "plots" / "robustness.png").is_file()
