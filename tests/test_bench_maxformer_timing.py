"""The turn-taking of benchmarks/bench_maxformer.py's timing: which steps run and which are timed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_maxformer.py"


@pytest.mark.parametrize("block, expected", [(1, "SJSJSJSJSJ"), (3, "SJSSSJJJSSSJJJ")])
def test_time_both_takes_turns_and_skips_the_first_step_of_each_turn(monkeypatch, block, expected):
    spec = importlib.util.spec_from_file_location("bench_maxformer", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls: list[str] = []
    monkeypatch.setattr(bench, "make_step", lambda v, *a: (lambda: calls.append("S" if v == "snnlab" else "J"), 7))
    timing = bench.time_both(steps=4, warmup=1, batch=2, device="cpu", block=block)
    assert "".join(calls) == expected  # warm-up S J, then the turns
    for variant in ("snnlab", "spikingjelly"):
        assert len(timing[variant]["times_s"]) == 4 and timing[variant]["params"] == 7


def test_time_both_takes_the_variants_in_turn(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_maxformer", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls: list[str] = []
    monkeypatch.setattr(bench, "make_step", lambda v, *a: (lambda: calls.append(v[-1]), 7))
    timing = bench.time_both(steps=2, warmup=1, batch=2, device="cpu", variants=bench.VARIANTS)
    assert bench.VARIANTS == ("snnlab", "spikingjelly", "spikingjelly-nchw")
    assert "".join(calls) == "byw" * 3
    assert all(len(timing[v]["times_s"]) == 2 for v in bench.VARIANTS)


def _bench():
    spec = importlib.util.spec_from_file_location("bench_maxformer", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_time_alone_warms_up_then_times_only_its_own_steps(monkeypatch):
    bench = _bench()
    calls: list[str] = []
    monkeypatch.setattr(bench, "make_step", lambda v, *a: (lambda: calls.append(v), 5))
    out = bench.time_alone("spikingjelly", steps=3, warmup=2, batch=2, device="cpu")
    assert calls == ["spikingjelly"] * 5
    assert len(out["times_s"]) == len(out["cpu_s"]) == 3 and out["params"] == 5


def test_processes_mode_runs_one_process_per_variant_per_round_and_pools_the_steps():
    bench = _bench()
    order: list[str] = []

    def runner(variant, steps, warmup, batch, device):
        order.append(variant)
        base = {"snnlab": 1.0, "spikingjelly": 3.0, "spikingjelly-nchw": 4.0}[variant] + len(order)
        return {"times_s": [base + i for i in range(steps)], "cpu_s": [2 * base] * steps, "params": 9}

    timing = bench.time_in_processes(2, 3, 1, 2, "cpu", bench.VARIANTS, runner=runner)
    assert order == list(bench.VARIANTS) * 2
    assert timing["snnlab"]["times_s"] == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # rounds 1 and 2 (calls 1 and 4)
    assert timing["snnlab"]["median_s"] == 4.5 and timing["snnlab"]["round_medians_s"] == [3.0, 6.0]
    assert timing["spikingjelly-nchw"]["median_cpu_s"] == 2 * (4.0 + 4.5)  # calls 3 and 6: cpu 14, 20 -> median 17


@pytest.mark.peers
def test_processes_mode_child_times_a_real_step():
    """The child protocol: ``--variant V --alone N`` runs in a fresh process and prints one JSON line."""
    pytest.importorskip("spikingjelly")
    out = _bench()._child_timing("spikingjelly-nchw", steps=1, warmup=0, batch=1, device="cpu")
    assert out["variant"] == "spikingjelly-nchw" and len(out["times_s"]) == len(out["cpu_s"]) == 1
    assert out["params"] == 737_402 and out["times_s"][0] > 0
