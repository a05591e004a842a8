"""benchmarks/bench_ddp.py's ``indep`` variant: N single-process runs at once, each with the per-process
batch and cores // N threads, their samples/s summed epoch by epoch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ddp.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_ddp_mod", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_ddp_mod"] = mod
    spec.loader.exec_module(mod)
    return mod


class FakeProc:
    """Writes the trainer's metrics.csv (an epoch 0 to skip, then two epochs) where ``--out`` points."""

    calls: list = []

    def __init__(self, cmd, env, stdout, stderr):
        FakeProc.calls.append((cmd, env))
        out = Path(cmd[cmd.index("--out") + 1])
        out.mkdir(parents=True)
        rate = 100.0 * len(FakeProc.calls)
        (out / "metrics.csv").write_text(f"epoch,samples_per_s\n0,1\n1,{rate}\n2,{rate + 10}\n")
        self.returncode = 0

    def communicate(self):
        return b"", b""


def test_independent_runs_sum_their_rates_with_the_per_process_batch_and_threads(tmp_path, monkeypatch):
    bench = load()
    FakeProc.calls = []
    monkeypatch.setattr(bench.subprocess, "Popen", FakeProc)
    monkeypatch.setattr(bench.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    res = bench.run_independent(["recipe.yaml"], 2, 256, tmp_path, keep=False)
    assert res["per_process"] == [[100.0, 110.0], [200.0, 210.0]]
    assert res["samples_per_s"] == [300.0, 320.0]  # summed epoch by epoch; epoch 0 (compilation) left out
    for cmd, env in FakeProc.calls:
        assert "data.batch_size=128" in cmd and "--nproc-per-node" not in cmd
        assert env["OMP_NUM_THREADS"] == env["NUMBA_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert bench.global_batch("shd") == 256


def test_a_failing_independent_run_is_reported(tmp_path, monkeypatch):
    bench = load()

    class Failing(FakeProc):
        def __init__(self, cmd, env, stdout, stderr):
            self.returncode = 2

        def communicate(self):
            return b"", b"error: data.root: no such folder\n"

    monkeypatch.setattr(bench.subprocess, "Popen", Failing)
    res = bench.run_independent(["recipe.yaml"], 2, 256, tmp_path, keep=False)
    assert res == {"error": "error: data.root: no such folder"}


def test_nopin_variant_turns_the_binding_off_and_unknown_variants_are_named(capsys):
    import pytest

    mod = load()
    assert mod.child_env("nopin", 2, keep=False)["SNNLAB_PIN_CORES"] == "0"
    env = mod.child_env("N", 2, keep=False)
    assert env.get("SNNLAB_PIN_CORES", "1") == "1"  # N: launch's default (bound) unless the caller said 0
    with pytest.raises(SystemExit) as err:
        mod.main(["--variants", "1,pin", "--rounds", "1", "--samples", "4"])
    assert err.value.code == 2 and "unknown 'pin'; valid: 1, N, nopin, old, indep" in capsys.readouterr().err
