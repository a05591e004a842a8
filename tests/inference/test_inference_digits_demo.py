"""Slow: the demo's spiking MLP trained on the embedded event digits, then early exit measured.

Run with ``pytest tests/inference -m slow -s``; it prints the numbers recorded in
experiments/results.md (section "Dynamic-confidence early exit").
"""
from __future__ import annotations

import json
from argparse import Namespace

import pytest
import torch
from torch import nn

from snnlab.data import collate_time_major, create_dataset
from snnlab.inference import run_for_eval
from snnlab.models import create_model


def _train_demo_model(epochs: int = 8) -> tuple[nn.Module, torch.utils.data.DataLoader]:
    """The demo recipe's network (512 -> 256 LIF -> 10 LI, CE on the mean readout), Adam + cosine."""
    train = create_dataset("digits", split="train")
    test = create_dataset("digits", split="test")
    g = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(train, 32, shuffle=True, collate_fn=collate_time_major, generator=g)
    torch.manual_seed(0)
    model = create_model("mlp_snn", in_features=512, num_classes=10, hidden=(256,), readout="li")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x).mean(0), y).backward()
            opt.step()
        sched.step()
    return model.eval(), torch.utils.data.DataLoader(test, 60, collate_fn=collate_time_major)


@pytest.mark.slow
def test_early_exit_on_the_digits_demo_model(tmp_path):
    model, test_loader = _train_demo_model()
    args = Namespace(max_drop=0.5, calib_size=100, hw="loihi2")
    report = run_for_eval(tmp_path, model, test_loader, args)
    report.pop("calibration")
    print(json.dumps(report, indent=1))
    assert report["accuracy_t_max"] > 0.8
    assert report["mean_latency"] < report["t_max"]
    assert report["accuracy"] >= report["accuracy_t_max"] - 0.05
    assert report["compute"]["synaptic_ops_per_sample_saved"] > 0.0
