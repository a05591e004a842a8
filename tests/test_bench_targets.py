"""benchmarks/targets.py: each target reads its script's JSON as recorded, the commands use flags the
scripts have, and a run reports a failing benchmark instead of stopping."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
RESULTS = BENCH / "results"


def load():
    spec = importlib.util.spec_from_file_location("bench_targets", BENCH / "targets.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_targets"] = mod
    spec.loader.exec_module(mod)
    return mod


# recorded runs (benchmarks/README.md quotes these numbers) and the value each target reads from them
RECORDED = [
    ("neurons", "neurons-2026-12-04.json", 8.08, True),
    ("train-mlp", "train-mlp-silent-idle-2026-12-04-host2.json", 3.52, True),
    ("train-delay", "train-delay-idle-2026-12-04-host2.json", 5.23, True),
    ("ddp", "ddp-shd-2048-idle-2026-12-04-host2.json", 1.13, False),
    ("crossover", "crossover-idle-2026-12-04-host2.json", 6.94, True),
    ("maxformer", "maxformer-3way-idle-2026-12-04-1645.json", 1.25, False),
    ("maxformer-nchw", "maxformer-3way-idle-2026-12-04-1645.json", 1.59, False),
    ("maxformer-memory", "maxformer-3way-idle-2026-12-04-1645.json", 0.71, True),
    ("wkv", "wkv.json", 2.64, True),
    ("sim-cuba", "bench_sim-idle-2026-12-04-host2.json", 1.59, True),
    ("sim-coba", "bench_sim-idle-2026-12-04-host2.json", 1.61, True),
]


@pytest.mark.parametrize("name, file, value, met", RECORDED)
def test_targets_read_the_recorded_results(name, file, value, met):
    targets = load()
    t = next(t for t in targets.TARGETS if t.name == name)
    got = t.extract(json.loads((RESULTS / file).read_text()))
    assert got == pytest.approx(value, abs=0.01)
    assert t.met(got) is met


def test_every_target_is_checked_against_a_recorded_run_and_its_flags_exist():
    targets = load()
    assert {t.name for t in targets.TARGETS} == {r[0] for r in RECORDED}
    for t in targets.TARGETS:
        source = (BENCH / t.script).read_text()
        for flag in (a for a in t.args if a.startswith("--")):
            assert re.search(rf"[\"']{re.escape(flag)}[\"']", source), f"{t.script} has no {flag}"


def test_list_and_unknown_target(capsys):
    targets = load()
    assert targets.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(t.name in listed for t in targets.TARGETS) and "FILE.json" in listed
    assert targets.main(["--only", "sim-cuba,warp-drive"]) == 2
    err = capsys.readouterr().err
    assert "warp-drive" in err and "valid:" in err and "sim-cuba" in err


def test_run_reports_a_failing_script_and_evaluates_a_working_one(tmp_path, monkeypatch):
    targets = load()
    (tmp_path / "ok.py").write_text(
        "import json, os, sys\n"
        "json.dump({'v': float(os.environ['OMP_NUM_THREADS']), 'out': sys.argv[2]}, open(sys.argv[2], 'w'))\n"
    )
    (tmp_path / "bad.py").write_text("raise SystemExit('cannot read the data file')\n")
    monkeypatch.setattr(targets, "HERE", tmp_path)
    ok = targets.Target("ok", "1", "ok", "ok.py", ("--out", "{out}"), lambda d: d["v"], 2.0, env=targets.TWO)
    bad = targets.Target("bad", "2", "bad", "bad.py", ("--out", "{out}"), lambda d: d["v"], 2.0)
    cache: dict = {}
    row = targets.run_target(ok, tmp_path, cache)
    assert row["value"] == 2.0 and row["met"] is True  # the target's thread setting reached the script
    assert next(iter(cache.values()))["result"]["out"] == "<tmp>/ok.json"  # no local path kept
    row = targets.run_target(bad, tmp_path, cache)
    assert row["met"] is None and "cannot read the data file" in row["error"]
    assert len(cache) == 2
    targets.run_target(ok, tmp_path, cache)  # the same script and arguments run once
    assert len(cache) == 2
    missing = targets.Target(
        "other", "3", "x", "ok.py", ("--out", "{out}"), lambda d: d["brian2"], 1.0, env=targets.TWO
    )
    row = targets.run_target(missing, tmp_path, cache)  # a JSON without the value: an error row, not a crash
    assert row["met"] is None and "ok.py's JSON has no value for other" in row["error"]
