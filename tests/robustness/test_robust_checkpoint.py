"""Resuming and reading run folders: damaged checkpoints, locks, schedules (exit 2, one line; no run lost)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.robustness.conftest import ROOT, TINY_RECIPE


def _recipe(folder: Path, name: str = "base", **train) -> Path:
    raw = {k: dict(v) for k, v in TINY_RECIPE.items()}
    raw["run"].update(name=name, out_dir=str(folder / "runs"))
    raw["train"].update(train)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished 1-epoch digits run with a cosine schedule (best.pt, last.pt, eval.json)."""
    from snnlab.cli import main

    folder = tmp_path_factory.mktemp("finished")
    recipe = _recipe(folder, optimizers=[{"name": "adam", "lr": 1e-3, "scheduler": {"name": "cosine"}}])
    assert main(["train", str(recipe)]) == 0
    return folder / "runs" / "base"


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    dst = tmp_path / "runs" / "copy"
    shutil.copytree(finished_run, dst)
    return dst


def _state(run: Path, which: str = "last") -> dict:
    return torch.load(run / "checkpoints" / f"{which}.pt", weights_only=True)


def _write_state(run: Path, state: object, which: str = "last") -> None:
    torch.save(state, run / "checkpoints" / f"{which}.pt")


def _drop(key):
    def damage(run: Path) -> None:
        state = _state(run)
        del state[key]
        _write_state(run, state)

    return damage


def _set(key, value):
    def damage(run: Path) -> None:
        state = _state(run)
        state[key] = value
        _write_state(run, state)

    return damage


def _truncate_both(run: Path) -> None:
    for which in ("last", "best"):
        path = run / "checkpoints" / f"{which}.pt"
        path.write_bytes(path.read_bytes()[:100])


def _last_is_folder(run: Path) -> None:
    (run / "checkpoints" / "best.pt").unlink()
    (run / "checkpoints" / "last.pt").unlink()
    (run / "checkpoints" / "last.pt").mkdir()


def _pickled_object(run: Path) -> None:
    (run / "checkpoints" / "best.pt").unlink()
    torch.save({"format": 1, "model": {}, "obj": Path("x")}, run / "checkpoints" / "last.pt")


def _no_checkpoints(run: Path) -> None:
    shutil.rmtree(run / "checkpoints")


# damage to the run folder -> substrings of the one error line of ``train --resume RUN``
RESUME_CASES = {
    "no checkpoints yet": (_no_checkpoints, "--resume", "last.pt", "without --resume"),
    "last.pt and best.pt truncated": (_truncate_both, "last.pt", "not a readable checkpoint", "--force"),
    "last.pt is a folder": (_last_is_folder, "last.pt", "is a folder", "--force"),
    "pickled object refused": (_pickled_object, "last.pt", "never executes code", "--force"),
    "no epoch entry": (_drop("epoch"), "last.pt", "'epoch'", "--force"),
    "no rng entry": (_drop("rng"), "last.pt", "'rng'", "--force"),
    "no history entry": (_drop("history"), "last.pt", "'history'", "--force"),
    "epoch of the wrong type": (_set("epoch", "three"), "last.pt", "'epoch' is a str", "int"),
    "history of the wrong type": (_set("history", 5), "last.pt", "'history' is a int", "list"),
    "rng damaged": (_set("rng", {"torch": 3}), "last.pt", "damaged resume state", "--force"),
    "weights of another model": (_set("model", {"w": torch.zeros(3)}), "last.pt", "does not match"),
    "not a checkpoint": (lambda run: _write_state(run, [1, 2, 3]), "last.pt", "not an snnlab checkpoint"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_bad_resume(cli_error, run_copy, case):
    damage, *expected = RESUME_CASES[case]
    damage(run_copy)
    if case != "last.pt and best.pt truncated" and (run_copy / "checkpoints" / "best.pt").exists():
        (run_copy / "checkpoints" / "best.pt").unlink()  # no fallback: the error itself is under test
    cli_error(["train", "--resume", run_copy, "--set", "train.epochs=1"], *expected)


def test_weights_only_refusal_gives_no_unsafe_advice(cli_error, run_copy):
    _pickled_object(run_copy)
    line = cli_error(["train", "--resume", run_copy], "last.pt").replace(str(run_copy), "RUN")
    assert "weights_only" not in line


def test_truncated_last_falls_back_to_best(run_copy, capsys):
    from snnlab.cli import main

    last = run_copy / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:200])
    assert main(["train", "--resume", str(run_copy), "--set", "train.epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "best.pt" in out and "done:" in out


def test_resume_longer_cosine_schedule_refused(cli_error, run_copy):
    cli_error(
        ["train", "--resume", run_copy, "--set", "train.epochs=3"], "train.epochs", "cosine", "--set train.epochs=1"
    )


def test_resume_longer_constant_schedule_continues(tmp_path, capsys):
    from snnlab.cli import main

    recipe = _recipe(tmp_path, "flat")
    assert main(["train", str(recipe)]) == 0
    assert main(["train", str(recipe), "--resume", "--set", "train.epochs=2"]) == 0
    assert "train.epochs changed from 1 to 2" in capsys.readouterr().out
    assert _state(tmp_path / "runs" / "flat")["epoch"] == 2


def test_resume_of_folder_without_config(cli_error, tmp_path):
    cli_error(["train", "--resume", tmp_path], "--resume", "config.yaml")


@pytest.mark.parametrize("payload", [b"\x00\xff\xfe binary", b"data: [unclosed\n", b"- a list\n"])
def test_corrupt_config_yaml_of_run(cli_error, run_copy, payload):
    (run_copy / "config.yaml").write_bytes(payload)
    cli_error(["train", "--resume", run_copy], "config.yaml")


def test_existing_run_needs_resume_or_force(cli_error, run_copy, tmp_path):
    cfg = yaml.safe_load((run_copy / "config.yaml").read_text())
    recipe = tmp_path / "copy.yaml"
    recipe.write_text(yaml.safe_dump(cfg))
    cli_error(["train", recipe], "already holds checkpoints", "--resume", "--force")


# -- the run-folder lock -------------------------------------------------------------------------

# the holder loads runlock.py alone (no torch import): it starts in well under a second
HOLD = (
    "import importlib.util, sys, time; spec = importlib.util.spec_from_file_location('runlock', sys.argv[2]); "
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.acquire(sys.argv[1]); "
    "print('held', flush=True); time.sleep(60)"
)


def test_second_run_into_a_busy_folder_refused(cli_error, tmp_path):
    recipe = _recipe(tmp_path, "busy")
    run_dir = tmp_path / "runs" / "busy"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runlock_py = ROOT / "snnlab" / "train" / "runlock.py"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir), str(runlock_py)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        cli_error(["train", recipe], str(run_dir), "in use by another run", f"pid {holder.pid}", "run.name")
        assert not (run_dir / "config.yaml").exists()  # the busy folder is untouched
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_killed_run_is_taken_over(tmp_path, capsys):
    from snnlab.cli import main

    recipe = _recipe(tmp_path, "stale")
    run_dir = tmp_path / "runs" / "stale"
    run_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / ".lock").write_text(json.dumps({"pid": dead.pid, "host": "h", "started": time.time()}))
    assert main(["train", str(recipe)]) == 0
    out = capsys.readouterr().out
    assert "no longer running" in out and f"pid {dead.pid}" in out
    assert not (run_dir / ".lock").exists()  # released at the end


@pytest.mark.slow
def test_two_runs_started_together(tmp_path):
    """Two real processes into one folder: one trains, the other exits 2 with one line."""
    recipe = _recipe(tmp_path, "race", epochs=2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "snnlab.cli", "train", str(recipe)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    results = sorted((p.wait(timeout=300), p.stderr.read()) for p in procs)
    assert [code for code, _ in results] == [0, 2]
    assert "in use by another run" in results[1][1] and len(results[1][1].strip().splitlines()) == 1
    cfg = yaml.safe_load((tmp_path / "runs" / "race" / "config.yaml").read_text())
    assert _state(tmp_path / "runs" / "race")["config"] == cfg
