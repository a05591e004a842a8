"""The demo's stages after training, one by one, on a tiny trained run (1 epoch, 96/64 samples)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pytest

from snnlab.commands import _demo_stages as stages
from snnlab.commands import demo
from snnlab.commands.demo import DemoContext
from snnlab.sim.check import compare_runs
from snnlab.train import load_run

TINY = [
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


def _args(out: Path) -> argparse.Namespace:
    return demo.register(argparse.ArgumentParser().add_subparsers()).parse_args(["--out", str(out), *TINY])


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> DemoContext:
    """A context after config, training and evaluation (shared by the tests of this module, in order)."""
    context = DemoContext(_args(tmp_path_factory.mktemp("demo") / "tiny"))
    for stage in (demo.stage_config, demo.stage_train, demo.stage_evaluate):
        stage(context)
    return context


def test_export_writes_a_graph_that_loads_and_runs(ctx: DemoContext) -> None:
    import torch

    from snnlab import ir

    stages.stage_export(ctx)
    graph = ir.load(ctx.run_dir / "model.nir")
    assert set(graph.nodes) == set(ctx.graph.nodes) and graph.metadata["dt"] == pytest.approx(0.01875)
    model = load_run(ctx.run_dir).model
    x = (torch.rand(16, 3, 2, 16, 16, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    torch.testing.assert_close(ir.from_nir(graph)(x.flatten(2)), model(x))  # the graph takes 512 inputs
    assert ctx.lines[-1].startswith("NIR export: ") and "model.nir" in ctx.lines[-1]


def test_sim_check_is_identical_in_float64(ctx: DemoContext) -> None:
    stages.stage_sim_check(ctx)
    check = json.loads((ctx.run_dir / "sim_check.json").read_text())
    assert check["samples"] == 32 and check["steps"] == 16 and check["dtype"] == "float64"
    assert check["spike_agreement"] == 1.0 and check["layers"] == {"hidden.0.neuron": 1.0}
    assert check["readout_max_abs_diff"] <= stages.READOUT_ATOL and check["identical"] is True
    assert 0 < check["synaptic_events"] < check["dense_macs"]
    assert "32 samples x 16 steps, hidden spikes identical (100.00%)" in ctx.lines[-1]


def test_sim_check_disagreement_is_a_warning(
    ctx: DemoContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    dense = stages._dense_float64

    def flipped(context: DemoContext, x):
        spikes, out = dense(context, x)
        return {k: 1 - v for k, v in spikes.items()}, out + 1.0

    monkeypatch.setattr(stages, "_dense_float64", flipped)
    stages.stage_sim_check(ctx)
    check = json.loads((ctx.run_dir / "sim_check.json").read_text())
    assert check["identical"] is False and check["spike_agreement"] == 0.0
    assert "WARNING: event-driven simulation differs" in capsys.readouterr().out
    monkeypatch.undo()
    stages.stage_sim_check(ctx)  # leave the folder as the demo writes it
    assert json.loads((ctx.run_dir / "sim_check.json").read_text())["identical"] is True


def test_early_exit_writes_its_report_and_plots(ctx: DemoContext) -> None:
    stages.stage_early_exit(ctx)
    report = json.loads((ctx.run_dir / "early_exit.json").read_text())
    for key in (
        "threshold",
        "t_max",
        "mean_latency",
        "accuracy",
        "accuracy_t_max",
        "latency_cut",
        "oracle",
        "split",
        "calibration",
        "compute",
        "plots",
    ):
        assert key in report, key
    split = report["split"]
    assert report["t_max"] == 16 and split["calibration_split"] == "valid" and split["reported"] == 64
    assert split["calibration"] == 144  # every 'valid' digit, none of the 64 test digits
    assert report["paper_rule"]["threshold"] == 0.6
    assert 1.0 <= report["mean_latency"] <= 16.0 and report["compute"]["streamable"] is True
    assert all((ctx.run_dir / p).is_file() for p in report["plots"])
    assert (
        ctx.lines[-1].startswith("early exit (threshold ")
        and "chosen; validation sweep on 144 'valid'" in ctx.lines[-1]
    )


def test_report_references_existing_plots_and_writes_descriptors(ctx: DemoContext) -> None:
    stages.stage_report(ctx)
    html = (ctx.run_dir / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)  # the file stands alone
    assert (ctx.run_dir / "report.md").is_file()
    assert "loihi2" in ctx.report["fits"] and (ctx.run_dir / "hw" / "loihi2.json").is_file()
    for chip in ("speck", "truenorth"):  # LIF neurons / 512 fan-in: the report says why
        assert chip not in ctx.report["fits"] and not (ctx.run_dir / "hw" / f"{chip}.json").exists()
    assert "does not fit" in ctx.lines[-2]
    assert ctx.lines[-1].startswith("energy per inference: loihi2 (Loihi 1 per-op energies) ")
    assert "ANN" in ctx.lines[-1] and "one dense pass" in ctx.lines[-1]


def test_summary_ends_with_the_report(ctx: DemoContext, capsys: pytest.CaptureFixture) -> None:
    demo.stage_summary(ctx)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"[demo] report: {ctx.run_dir / 'report.html'}"
    assert not [line for line in out if "WARNING" in line and "differs" not in line]


def test_stage_errors_become_warnings(ctx: DemoContext, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    broken = DemoContext(_args(tmp_path / "empty"), config=ctx.config, run_dir=tmp_path / "empty")
    for stage in stages.STAGES:
        stage(broken)
    out = capsys.readouterr().out
    assert "WARNING: export skipped: run folder" in out and "sim_check skipped: no NIR graph" in out
    assert broken.skipped == {"export", "sim_check", "early_exit", "report"}
    assert not (tmp_path / "empty" / "sim_check.json").exists()


def test_compare_runs_counts_partial_agreement(ctx: DemoContext) -> None:
    from snnlab.sim import Simulator

    x = np.zeros((4, 2, 2, 16, 16))
    x[:, :, 0, :4, :4] = 1.0
    result = Simulator(ctx.graph, backend="numba", record=["hidden.0.neuron"]).run(x)
    dense = result.dense("hidden.0.neuron").reshape(4, 2, -1).astype(np.uint8)
    dense[0, 0, :8] ^= 1  # 8 of 4 * 2 * 32 entries differ
    check = compare_runs({"hidden.0.neuron": dense}, result.output("output"), result)
    assert check["spike_agreement"] == pytest.approx(1 - 8 / 256) and check["readout_max_abs_diff"] == 0.0
