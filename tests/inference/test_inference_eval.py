"""``run_for_eval``: the early-exit report behind ``snnlab eval RUN --early-exit``."""
from __future__ import annotations

import json
from argparse import Namespace

import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.inference import run_for_eval
from snnlab.inference.early_exit import EarlyExitOptions, split_calibration


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int = 8):
    return [(x[:, i:i + batch], y[i:i + batch]) for i in range(0, x.shape[1], batch)]


def test_split_is_fixed_disjoint_and_capped():
    cal, held = split_calibration(40, 100)
    assert cal.numel() == 20 and held.numel() == 20
    assert set(cal.tolist()).isdisjoint(held.tolist())
    assert torch.equal(split_calibration(40, 100)[0], cal)
    with pytest.raises(ConfigError):
        split_calibration(1, 10)
    with pytest.raises(ConfigError):
        EarlyExitOptions.from_args(Namespace(calib_size=0))


def test_run_for_eval_writes_report_and_plots(tmp_path, small_snn):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(10, 40, 12, generator=g) * 3.0
    y = small_snn(x).sum(0).argmax(-1)  # labels the model gets right at T_max
    args = Namespace(max_drop=5.0, smoothing=2.0, calib_size=16, hw="loihi2", early_exit=True)
    report = run_for_eval(tmp_path, small_snn, _loader(x, y), args)
    saved = json.loads((tmp_path / "early_exit.json").read_text())
    assert saved["threshold"] == report["threshold"]
    assert saved["split"] == {**saved["split"], "calibration": 16, "held_out": 24}
    assert saved["accuracy_t_max"] == 1.0
    assert saved["accuracy"] >= 0.95 - 1e-9 or saved["mean_latency"] == 10
    assert saved["oracle"]["mean_latency"] <= saved["mean_latency"]
    assert saved["oracle"]["accuracy"] == 1.0
    compute = saved["compute"]
    assert compute["streamable"] is True
    assert compute["exit"]["mean_latency"] == pytest.approx(saved["mean_latency"])
    assert compute["exit"]["synaptic_ops_per_sample"] <= compute["full"]["synaptic_ops_per_sample"]
    assert compute["full"]["spikes_per_neuron"] > 0
    assert "energy" in compute
    for name in ("early_exit_pareto.png", "early_exit_latency_hist.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
