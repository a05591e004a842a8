"""Resumable training: a run interrupted at any point (also by SIGKILL, also in the middle of a
checkpoint write) and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from snnlab.train import Trainer, load_checkpoint
from snnlab.train.config import load_config

from .conftest import write_recipe

EXACT = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr")
RESUME_RECIPE = {
    "data": {"limit_train": 192},
    "train": {"epochs": 3},
    "model": {"dropout": 0.2, "hidden": [32]},
}  # dropout: the torch RNG matters

# Run `snnlab train` with torch.save patched so that the second write of last.pt stops half way
# (bytes flushed to the temporary file, never renamed): the test kills the process there.
TORN_WRITE = """
import sys, time, io, torch
from snnlab.cli import main
real_save = torch.save
count = {"last": 0}
def torn_save(obj, fh, *args, **kwargs):
    name = getattr(fh, "name", "")
    if ".tmp-last.pt" in str(name):
        count["last"] += 1
        if count["last"] == 2:
            buf = io.BytesIO()
            real_save(obj, buf)
            fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            fh.flush()
            time.sleep(600)
    return real_save(obj, fh, *args, **kwargs)
torch.save = torn_save
sys.exit(main(["train", sys.argv[1]]))
"""


def _final(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")


def _assert_same_run(a: Path, b: Path) -> None:
    ca, cb = _final(a), _final(b)
    assert ca["epoch"] == cb["epoch"]
    assert ca["model"].keys() == cb["model"].keys()
    for key in ca["model"]:
        assert torch.equal(ca["model"][key], cb["model"][key]), f"weights differ at {key}"
    for ra, rb in zip(ca["history"], cb["history"], strict=True):
        assert {k: ra[k] for k in EXACT} == {k: rb[k] for k in EXACT}
    for sa, sb in zip(ca["optim"]["optimizers"], cb["optim"]["optimizers"]):
        for pid in sa["state"]:
            assert torch.equal(sa["state"][pid]["exp_avg"], sb["state"][pid]["exp_avg"])


@pytest.fixture
def reference_run(tmp_path: Path) -> Path:
    """The uninterrupted 3-epoch run."""
    recipe = write_recipe(tmp_path, {**RESUME_RECIPE, "run": {"name": "reference"}}, "reference.yaml")
    Trainer(load_config(recipe)).fit()
    return tmp_path / "runs" / "reference"


def test_checkpoint_holds_only_safe_types(reference_run: Path) -> None:
    ckpt = torch.load(reference_run / "checkpoints" / "best.pt", weights_only=True)
    assert {"model", "optim", "rng", "epoch", "best", "history", "config"} <= set(ckpt)
    assert {"torch", "numpy", "python", "loader"} <= set(ckpt["rng"])
    assert ckpt["config"]["train"]["epochs"] == 3
    assert not list((reference_run / "checkpoints").glob(".tmp-*"))


def test_resume_in_process_is_bit_identical(tmp_path: Path, reference_run: Path) -> None:
    recipe = write_recipe(tmp_path, {**RESUME_RECIPE, "run": {"name": "split"}}, "split.yaml")
    Trainer(load_config(recipe)).fit(max_epochs=1)
    Trainer(load_config(recipe), resume=True).fit()
    _assert_same_run(reference_run, tmp_path / "runs" / "split")
    rows = (tmp_path / "runs" / "split" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].split(",")[:5] == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]


def _run_until(cmd: list[str], ready, timeout: float = 240.0) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` holds."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"training ended before the kill point: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("kill point not reached in time")
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_after_first_checkpoint_then_resume(tmp_path: Path, reference_run: Path) -> None:
    recipe = write_recipe(tmp_path, {**RESUME_RECIPE, "run": {"name": "killed"}}, "killed.yaml")
    last = tmp_path / "runs" / "killed" / "checkpoints" / "last.pt"
    _run_until([sys.executable, "-m", "snnlab.cli", "train", str(recipe)], last.is_file)
    assert load_checkpoint(last)["epoch"] in (1, 2)
    Trainer(load_config(recipe), resume=True).fit()
    _assert_same_run(reference_run, tmp_path / "runs" / "killed")


def test_sigkill_during_checkpoint_write_then_resume(tmp_path: Path, reference_run: Path) -> None:
    recipe = write_recipe(tmp_path, {**RESUME_RECIPE, "run": {"name": "torn"}}, "torn.yaml")
    ckpt_dir = tmp_path / "runs" / "torn" / "checkpoints"

    def torn_file_written() -> bool:  # epoch 1's last.pt is in place and the second write has started
        if not (ckpt_dir / "last.pt").is_file():
            return False
        return any(p.stat().st_size > 0 for p in ckpt_dir.glob(".tmp-last.pt.*"))

    _run_until([sys.executable, "-c", TORN_WRITE, str(recipe)], torn_file_written)
    assert list(ckpt_dir.glob(".tmp-last.pt.*")), "the torn temporary file should remain after the kill"
    assert load_checkpoint(ckpt_dir / "last.pt")["epoch"] == 1  # the previous checkpoint is intact
    Trainer(load_config(recipe), resume=True).fit()
    assert not list(ckpt_dir.glob(".tmp-*"))
    _assert_same_run(reference_run, tmp_path / "runs" / "torn")


def test_existing_run_needs_resume_or_force(tmp_path: Path, reference_run: Path) -> None:
    from snnlab.errors import ConfigError

    recipe = write_recipe(tmp_path, {**RESUME_RECIPE, "run": {"name": "reference"}}, "reference.yaml")
    with pytest.raises(ConfigError, match="--resume"):
        Trainer(load_config(recipe))
