"""Shared helpers of the bad-input suite: run the CLI in-process, expect exit 2 and one line.

Every case of ``tests/robustness/`` asserts the same contract: the command exits with status 2,
prints exactly one line on stderr (``error: ...``, no traceback), and that line names what was
wrong (file, field, value) and what is valid: the substrings each case lists.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Sequence

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _error_lines(stderr: str) -> list[str]:
    """Non-empty stderr lines, ignoring progress-bar carriage returns and warnings."""
    lines = [ln for ln in stderr.replace("\r", "\n").splitlines() if ln.strip()]
    return [ln for ln in lines if "Warning" not in ln or ln.startswith("error:")]


def assert_one_line_error(code: int, stderr: str, substrings: Sequence[str]) -> str:
    """The shared assertion: exit 2, one stderr line starting ``error:``, holding ``substrings``."""
    lines = [ln for ln in _error_lines(stderr) if not ln.startswith(("epoch ", "train", "valid", "test"))]
    assert code == 2, f"exit {code}, stderr:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one 'error:' line, got:\n{stderr}"
    for text in substrings:
        assert text.lower() in lines[0].lower(), f"{text!r} not in: {lines[0]}"
    return lines[0]


@pytest.fixture
def cli_error(capsys: pytest.CaptureFixture[str]):
    """``cli_error(argv, *substrings)``: run ``snnlab.cli.main(argv)`` in-process and assert the contract."""
    from snnlab.cli import main

    def run(argv: Sequence[str], *substrings: str) -> str:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return assert_one_line_error(code, captured.err, substrings)

    return run


@pytest.fixture
def cli_error_subprocess():
    """The same contract through a real ``python -m snnlab.cli`` process (for workers, signals, locks)."""

    def run(argv: Sequence[str], *substrings: str, cwd: Path | None = None, timeout: float = 120) -> str:
        env_path = str(ROOT)
        import os

        env = {**os.environ, "PYTHONPATH": env_path + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run(
            [sys.executable, "-m", "snnlab.cli", *map(str, argv)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
        )
        return assert_one_line_error(proc.returncode, proc.stderr, substrings)

    return run


TINY_RECIPE = {
    "data": {"name": "digits", "batch_size": 16, "limit_train": 32, "limit_test": 16, "options": {"n_time_bins": 4}},
    "model": {"name": "mlp_snn", "hidden": [8], "backend": "torch"},  # no kernel compilation
    "train": {"epochs": 1, "deterministic": True},
    "run": {"name": "bad", "progress": False},
}


@pytest.fixture
def tiny_recipe(tmp_path: Path):
    """``tiny_recipe(**sections)``: write a 1-epoch digits recipe (sections merged over the default)."""

    def write(name: str = "bad.yaml", **sections: dict) -> Path:
        raw = {k: dict(v) for k, v in TINY_RECIPE.items()}
        raw["run"]["out_dir"] = str(tmp_path / "runs")
        for key, value in sections.items():
            raw[key] = {**raw.get(key, {}), **value}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw))
        return path

    return write


@pytest.fixture(scope="session")
def evaluated_run(tmp_path_factory) -> Path:
    """A 1-epoch digits run with eval.json, activity.json, spikes.npz and model.nir (copy before damaging)."""
    from snnlab.cli import main

    folder = tmp_path_factory.mktemp("evaluated")
    raw = {k: dict(v) for k, v in TINY_RECIPE.items()}
    raw["run"].update(name="run", out_dir=str(folder / "runs"))
    recipe = folder / "run.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    run = folder / "runs" / "run"
    assert main(["train", str(recipe)]) == 0
    assert main(["eval", str(run)]) == 0
    assert main(["export", str(run), "--to", "nir"]) == 0
    return run
