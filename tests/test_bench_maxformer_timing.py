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
