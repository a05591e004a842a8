"""The train, eval, demo and info commands end to end through ``snnlab.cli.main``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from snnlab.cli import main
from snnlab.results import stray_results


def test_train_then_eval_then_resume(cli_recipe: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", str(cli_recipe), "--set", "train.epochs=2"]) == 0
    run_dir = cli_recipe.parent / "runs" / "cli"
    assert {"config.yaml", "metrics.csv"} <= {p.name for p in run_dir.iterdir()}
    assert (run_dir / "checkpoints" / "best.pt").is_file() and (run_dir / "checkpoints" / "last.pt").is_file()
    assert "test_acc" in (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert main(["eval", str(run_dir), "--samples", "3"]) == 0
    report = json.loads((run_dir / "eval.json").read_text())
    assert 0.0 <= report["accuracy"] <= 1.0 and report["samples"] == 32
    assert list(report["firing_rates"]) == ["hidden.0.neuron"]
    with np.load(run_dir / "spikes.npz") as rec:
        assert rec["layer0"].shape == (8, 3, 16) and rec["labels"].shape == (3,)
    assert main(["train", "--resume", str(run_dir)]) == 0  # finished run: nothing left to do
    assert "done:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "{recipe}", "--set", "train.epochz=1"], "unknown key(s) ['epochz']; valid: epochs"),
        (["train", "{recipe}", "--set", "model.tau=slow"], "model.tau: expected float"),
        (["train", "{missing}"], "file not found"),
        (["eval", "{missing}"], "not a run folder"),
        (["train"], "a recipe is needed"),
    ],
)
def test_user_errors_are_one_line_exit_2(
    argv: list[str], message: str, cli_recipe: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [a.format(recipe=cli_recipe, missing=cli_recipe.parent / "nope.yaml") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_existing_run_is_not_overwritten_silently(cli_recipe: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", str(cli_recipe), "--set", "train.epochs=1"]) == 0
    assert main(["train", str(cli_recipe), "--set", "train.epochs=1"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", str(cli_recipe), "--set", "train.epochs=1", "--force"]) == 0


def test_demo_tiny(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "runs" / "demo"
    argv = [
        "demo",
        "--out",
        str(out),
        "--epochs",
        "1",
        "--set",
        "data.limit_train=96",
        "--set",
        "data.limit_test=64",
        "--set",
        "run.progress=false",
        "--set",
        "model.hidden=[32]",
    ]
    assert main(argv) == 0
    assert {"config.yaml", "metrics.csv", "eval.json", "spikes.npz"} <= {p.name for p in out.iterdir()}
    assert {p.name for p in (out / "checkpoints").iterdir()} >= {"last.pt", "best.pt"}
    assert {p.name for p in (out / "plots").iterdir()} >= {
        "training_curves.png",
        "spike_raster.png",
        "firing_rates.png",
    }
    _assert_demo_artefacts(out)
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "WARNING" not in printed
    assert printed.strip().splitlines()[-1] == f"[demo] report: {out / 'report.html'}"


DEMO_FILES = (
    "config.yaml",
    "metrics.csv",
    "eval.json",
    "activity.json",
    "spikes.npz",
    "model.nir",
    "sim_check.json",
    "early_exit.json",
    "report.html",
    "report.md",
    "checkpoints/best.pt",
    "checkpoints/last.pt",
    "hw/loihi2.json",
    "hw/spinnaker2.json",
    "hw/cmos45.json",
    "hw/gpu.json",
)
DEMO_PLOTS = (
    "training_curves.png",
    "spike_raster.png",
    "firing_rates.png",
    "early_exit_pareto.png",
    "early_exit_latency_hist.png",
    "energy_breakdown.png",
    "snn_vs_ann.png",
    "utilisation.png",
)


def _assert_demo_artefacts(out: Path) -> None:
    """Every file the demo promises, and an event-driven check that agrees exactly."""
    missing = [f for f in DEMO_FILES + tuple(f"plots/{p}" for p in DEMO_PLOTS) if not (out / f).is_file()]
    assert not missing, f"the demo did not write {missing}"
    assert json.loads((out / "sim_check.json").read_text())["identical"] is True
    assert stray_results(out) == []


def test_demo_stages_are_extensible(tmp_path: Path) -> None:
    from snnlab.commands import demo

    seen = []
    stages = [demo.stage_config, lambda ctx: seen.append(ctx.run_dir)]
    args = demo.register(__import__("argparse").ArgumentParser().add_subparsers()).parse_args(
        ["--out", str(tmp_path / "d")]
    )
    assert demo.run(args, stages) == 0 and seen == [tmp_path / "d"]


def test_info_reports_versions_backends_devices(capsys: pytest.CaptureFixture) -> None:
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"] and info["versions"]["snnlab"]
    assert info["backends"]["torch"]["available"] is True
    assert all("why_not" in b for b in info["backends"].values())
    assert "cuda_devices" in info["devices"] and "spikingjelly" in info["peers"]


@pytest.mark.parametrize("command", ["train", "eval", "demo", "info"])
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "examples:" in capsys.readouterr().out


@pytest.mark.slow
def test_full_demo_reaches_90_percent_in_3_minutes(tmp_path: Path) -> None:
    start = time.perf_counter()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--set", "run.progress=false"]) == 0
    wall = time.perf_counter() - start
    report = json.loads((tmp_path / "demo" / "eval.json").read_text())
    assert report["accuracy"] >= 0.90 and report["selection_split"] == "valid"  # best.pt not chosen on test
    assert wall < 180.0
    _assert_demo_artefacts(tmp_path / "demo")
