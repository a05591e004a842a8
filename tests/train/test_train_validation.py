"""Model selection on a validation split: valid metrics every epoch, best.pt chosen on them, the
test split evaluated once at the end; without a validation split, selection stays on test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.train import Trainer, load_checkpoint
from snnlab.train import trainer as trainer_module
from snnlab.train.config import load_config
from snnlab.train.data import build_run_data
from snnlab.train.distributed import DistContext
from snnlab.train.evaluation import evaluate_run
from snnlab.train.metrics import read_metrics_csv

from .conftest import write_recipe

VALID = {
    "data": {"valid_split": "valid", "limit_valid": 48, "train_options": {"holdout_valid": True}},
    "train": {"epochs": 3},
    "model": {"dropout": 0.2, "hidden": [32]},
}
EXACT = ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr")


def _count_evaluations(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the trainer's evaluation passes per split."""
    calls = {"valid": 0, "test": 0}
    real = trainer_module.evaluate

    def counting(*args, prefix: str = "test", **kwargs):
        calls[prefix] += 1
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(trainer_module, "evaluate", counting)
    return calls


def test_train_options_reach_the_training_split_only(tmp_path: Path) -> None:
    cfg = load_config(
        write_recipe(tmp_path, {"data": {**VALID["data"], "limit_valid": None}}),
        ["data.limit_train=null", "data.limit_test=null"],
    )
    data = build_run_data(cfg.data, 0, DistContext())
    assert (len(data.train_set), len(data.valid_set), len(data.test_set)) == (1293, 144, 360)
    assert set(data.train_set.indices).isdisjoint(data.valid_set.indices)
    assert data.selection_loader is data.valid_loader


def test_valid_split_selects_best_and_test_is_evaluated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_evaluations(monkeypatch)
    cfg = load_config(write_recipe(tmp_path, VALID))
    assert cfg.run.monitor == "valid_acc"
    summary = Trainer(cfg).fit()
    assert calls == {"valid": 3, "test": 2}  # every epoch on valid; best and last weights once on test
    run_dir = tmp_path / "runs" / "tiny"
    rows = read_metrics_csv(run_dir / "metrics.csv")
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["epoch", "train_loss", "train_acc", "valid_loss", "valid_acc"] and "test_acc" not in header
    history = load_checkpoint(run_dir / "checkpoints" / "last.pt")["history"]
    ranks = [(row["valid_acc"], -row["valid_loss"]) for row in history]  # ties go to the lower valid loss
    assert summary["best_epoch"] == 1 + ranks.index(max(ranks)) and summary["best"] == max(ranks)[0]
    assert load_checkpoint(run_dir / "checkpoints" / "best.pt")["epoch"] == summary["best_epoch"]
    assert len(rows) == 3 and summary["selected_on"] == "valid_acc" and summary["selection_split"] == "valid"
    report = json.loads((run_dir / "eval.json").read_text())
    assert report == summary["test"] and report["samples"] == 48 and report["epoch"] == summary["best_epoch"]
    assert report["selection_split"] == "valid" and report["last_epoch"] == 3
    again = evaluate_run(run_dir)  # the standalone evaluation of best.pt agrees and keeps the last-epoch figure
    assert again["accuracy"] == report["accuracy"] and again["accuracy_last"] == report["accuracy_last"]


def test_without_valid_split_selection_is_on_test(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from snnlab.cli import main

    assert main(["train", str(write_recipe(tmp_path, {"train": {"epochs": 1}}))]) == 0
    out = capsys.readouterr().out
    assert "best test_acc" in out and "'test' split (no validation split" in out
    report = json.loads((tmp_path / "runs" / "tiny" / "eval.json").read_text())
    assert report["selected_on"] == "test_acc" and report["selection_split"] == "test"
    row = read_metrics_csv(tmp_path / "runs" / "tiny" / "metrics.csv")[0]
    assert report["accuracy"] == pytest.approx(row["test_acc"], abs=1e-6) and "valid_acc" not in row


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"data": {"valid_split": "valid"}}, "holdout_valid: true"),
        ({"run": {"monitor": "valid_acc"}}, "'valid_acc' needs data.valid_split"),
        ({**VALID, "run": {"monitor": "test_acc"}}, "evaluated only once"),
        ({"data": {"valid_split": "test"}}, "must differ"),
    ],
)
def test_inconsistent_selection_settings_fail_clearly(tmp_path: Path, extra: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Trainer(load_config(write_recipe(tmp_path, extra)))


def test_resume_with_valid_split_is_bit_identical(tmp_path: Path) -> None:
    ref = write_recipe(tmp_path, {**VALID, "run": {"name": "reference"}}, "reference.yaml")
    Trainer(load_config(ref)).fit()
    split = write_recipe(tmp_path, {**VALID, "run": {"name": "split"}}, "split.yaml")
    assert Trainer(load_config(split)).fit(max_epochs=1)["test"] == {}  # unfinished: test untouched
    Trainer(load_config(split), resume=True).fit()
    runs = tmp_path / "runs"
    a, b = (load_checkpoint(runs / name / "checkpoints" / "last.pt") for name in ("reference", "split"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert [{k: r[k] for k in EXACT} for r in a["history"]] == [{k: r[k] for k in EXACT} for r in b["history"]]
    ea, eb = (json.loads((runs / name / "eval.json").read_text()) for name in ("reference", "split"))
    assert (ea["accuracy"], ea["epoch"], ea["accuracy_last"]) == (eb["accuracy"], eb["epoch"], eb["accuracy_last"])
