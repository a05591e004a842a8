"""benchmarks/bench_train.py pools the steps of several processes per framework and compares them honestly."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(fw: str, proc: int, steps_ms: list[float], cpu_ms: list[float] | None = None) -> dict:
    cpu = cpu_ms or [2 * s for s in steps_ms]
    return {
        "net": "mlp",
        "framework": fw,
        "proc": proc,
        "step_list_s": [s / 1e3 for s in steps_ms],
        "cpu_list_s": [c / 1e3 for c in cpu],
        "calib_ms": [10.0 + proc, 12.0 + proc],
    }


def test_summary_pools_steps_and_gives_the_pessimistic_ratio(bench):
    rows = [
        _row("snnlab", 0, [100, 102, 98]),
        _row("spikingjelly", 0, [400, 410, 390]),
        _row("snnlab", 1, [130, 131, 129]),  # a slow process: the pooled median moves, the pessimistic ratio sees it
        _row("spikingjelly", 1, [380, 390, 385]),
        _row("snntorch", 0, [800, 810, 790]),
        _row("snnlab-dense", 0, [300, 300, 300]),  # an A/B side, never a peer
        {"net": "mlp", "framework": "norse", "proc": 0, "error": "killed"},
    ]
    s = bench.summarize(rows)
    ours, sj = s["frameworks"]["snnlab"], s["frameworks"]["spikingjelly"]
    assert ours["steps"] == 6 and ours["procs"] == 2
    assert ours["p50_ms"] == pytest.approx(115.5)  # median of 98, 100, 102, 129, 130, 131
    assert ours["proc_p50_ms"] == pytest.approx([100.0, 130.0])
    assert ours["proc_cpu_per_wall"] == pytest.approx([2.0, 2.0])
    assert ours["proc_calib_ms"] == pytest.approx([10.0, 11.0])  # each process's core speed: the faster reading
    assert ours["cpu_p50_ms"] == pytest.approx(231.0)
    assert sj["p50_ms"] == pytest.approx(390.0) and sj["proc_p50_ms"] == pytest.approx([400.0, 385.0])
    assert "norse" not in s["frameworks"]
    assert s["peer"] == "spikingjelly"  # the fastest peer by pooled median, snnlab-dense excluded
    assert s["pooled"] == pytest.approx(390.0 / 115.5)
    assert s["pessimistic"] == pytest.approx(385.0 / 130.0)  # fastest peer process / slowest snnlab process
    assert s["p90"] == pytest.approx(sj["p90_ms"] / ours["p90_ms"])
    text = bench.format_summary("mlp", s)
    assert "3.38x" in text and "pessimistic 2.96x" in text and "[100.0, 130.0]" in text


def test_summary_without_a_peer_has_no_ratio(bench):
    s = bench.summarize([_row("snnlab", 0, [100, 110]), _row("snnlab", 1, [120])])
    assert "pooled" not in s and s["frameworks"]["snnlab"]["p50_ms"] == pytest.approx(110.0)
    assert "x the fastest peer" not in bench.format_summary("mlp", s)
    assert math.isnan(bench._median([]))
