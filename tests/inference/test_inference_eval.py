"""``run_for_eval``: the early-exit report behind ``snnlab eval RUN --early-exit``."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.inference import run_for_eval
from snnlab.inference.early_exit import EarlyExitOptions, calibration_subset


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int = 8):
    return [(x[:, i : i + batch], y[i : i + batch]) for i in range(0, x.shape[1], batch)]


def test_calibration_subset_is_fixed_and_capped():
    sub = calibration_subset(40, 16)
    assert sub.numel() == 16 and torch.equal(calibration_subset(40, 16), sub)
    assert torch.equal(calibration_subset(40, None), torch.arange(40))
    with pytest.raises(ConfigError):
        calibration_subset(1, None)
    with pytest.raises(ConfigError):
        EarlyExitOptions.from_args(Namespace(calib_size=0))
    with pytest.raises(ConfigError, match="0.6"):
        EarlyExitOptions.from_args(Namespace(threshold=1.5))


def _data(seed: int, n: int, model):
    x = torch.rand(10, n, 12, generator=torch.Generator().manual_seed(seed)) * 3.0
    return x, model(x).sum(0).argmax(-1)  # labels the model gets right at T_max


class GuardedSplit:
    """A loader over the test split that raises if read while ``locked`` (i.e. during calibration)."""

    def __init__(self, batches):
        self.batches, self.locked, self.reads = batches, True, 0

    def __iter__(self):
        if self.locked:
            raise AssertionError("the test split was read before the early-exit rule was fixed")
        self.reads += 1
        return iter(self.batches)


def test_run_for_eval_writes_report_and_plots(tmp_path, small_snn):
    x, y = _data(3, 40, small_snn)
    xv, yv = _data(4, 24, small_snn)
    args = Namespace(max_drop=5.0, smoothing=2.0, calib_size=16, hw="loihi2", early_exit=True)
    report = run_for_eval(tmp_path, small_snn, _loader(x, y), args, calib_loader=_loader(xv, yv))
    saved = json.loads((tmp_path / "early_exit.json").read_text())
    assert saved["threshold"] == report["threshold"]
    assert saved["split"] == {**saved["split"], "calibration": 16, "calibration_split": "valid", "reported": 40}
    assert saved["accuracy_t_max"] == 1.0
    assert saved["accuracy"] >= 0.95 - 1e-9 or saved["mean_latency"] == 10
    assert saved["oracle"]["mean_latency"] <= saved["mean_latency"]
    assert saved["oracle"]["accuracy"] == 1.0
    assert saved["paper_rule"]["threshold"] == 0.6 and "main.py" in saved["paper_rule"]["definition"]
    compute = saved["compute"]
    assert compute["streamable"] is True
    assert compute["exit"]["mean_latency"] == pytest.approx(saved["mean_latency"])
    assert compute["exit"]["synaptic_ops_per_sample"] <= compute["full"]["synaptic_ops_per_sample"]
    assert compute["full"]["spikes_per_neuron"] > 0
    assert "Loihi 1" in compute["energy_basis"]["loihi2_j"]
    for name in ("early_exit_pareto.png", "early_exit_latency_hist.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000


def test_calibration_never_reads_the_test_split(tmp_path, small_snn, monkeypatch):
    """The rule is fixed from the validation split alone: the test loader raises until then, and two
    different test splits give the same calibration."""
    from snnlab.inference import early_exit

    monkeypatch.setattr(early_exit, "plot_pareto", lambda *a, **k: None)  # figures are tested above
    monkeypatch.setattr(early_exit, "plot_latency_hist", lambda *a, **k: None)
    xv, yv = _data(4, 24, small_snn)
    reports = []
    for seed in (3, 5):
        x, y = _data(seed, 32, small_snn)
        y[:seed] = (y[:seed] + 1) % 4  # a different test accuracy per seed
        test = GuardedSplit(_loader(x, y))
        real = early_exit.calibrate_on_validation

        def unlock_after(*a, _real=real, _test=test, **k):
            result = _real(*a, **k)
            _test.locked = False  # the rule is fixed: from now on the test split may be read
            return result

        monkeypatch.setattr(early_exit, "calibrate_on_validation", unlock_after)
        args = Namespace(max_drop=1.0, smoothing=2.0, hw="none")
        reports.append(run_for_eval(tmp_path / str(seed), small_snn, test, args, calib_loader=_loader(xv, yv)))
        assert test.reads >= 1
    assert reports[0]["calibration"] == reports[1]["calibration"]
    assert reports[0]["threshold"] == reports[1]["threshold"]
    assert reports[0]["accuracy"] != reports[1]["accuracy"]


def test_run_for_eval_refuses_without_a_validation_split(tmp_path, small_snn):
    x, y = _data(3, 8, small_snn)
    with pytest.raises(ConfigError, match="valid"):
        run_for_eval(tmp_path, small_snn, _loader(x, y), Namespace(hw="none"))
