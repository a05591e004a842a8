"""Firing-rate hooks, metrics.csv rewriting, TensorBoard logging."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.train import Trainer
from snnlab.train.config import load_config
from snnlab.train.metrics import FiringRateMonitor, read_metrics_csv, write_metrics_csv

from .conftest import write_recipe


def test_firing_rate_monitor_counts_spikes_per_layer() -> None:
    model = nn.Sequential(snn.IF(v_threshold=0.5), snn.TimeDistributed(nn.Linear(4, 4)), snn.LI())
    x = torch.zeros(10, 2, 4)
    x[::2] = 1.0  # IF with threshold 0.5 fires exactly on these 5 of 10 steps
    with FiringRateMonitor(model) as monitor:
        model(x)
    assert monitor.rates() == {"0": 0.5}  # the LI readout is not a spiking layer
    model(x)
    assert monitor.totals()[0, 1] == 80  # hooks removed on exit


def test_metrics_csv_is_rewritten_whole(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    history = [{"epoch": 1, "train_loss": 1.0, "test_acc": 0.5, "rate/a": 0.1}]
    write_metrics_csv(path, history)
    write_metrics_csv(path, history + [{"epoch": 2, "train_loss": 0.5, "test_acc": 0.75, "rate/a": 0.2}])
    rows = read_metrics_csv(path)
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["test_acc"] == 0.75
    assert path.read_text().splitlines()[0] == "epoch,train_loss,test_acc,rate/a"


def test_tensorboard_events_written(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, {"run": {"tensorboard": True}, "train": {"epochs": 1}})
    Trainer(load_config(recipe)).fit()
    assert list((tmp_path / "runs" / "tiny" / "tensorboard").glob("events.out.tfevents.*"))
