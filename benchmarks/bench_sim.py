"""Event-driven simulator against brian2 on the Vogels-Abbott benchmarks (CUBA and COBA).

Usage: python benchmarks/bench_sim.py [--seconds 1.0] [--reps 5] [--models cuba,coba]
                                      [--runtime-targets] [--skip-brian2]

4,000 LIF neurons (3,200 exc / 800 inh), connection probability 2 %, dt 0.1 ms, one sample:
CUBA (current synapses, brian2's CUBA example) and COBA (conductances ge/gi, 5/10 ms,
reversal 0/-80 mV; Brette et al. 2007 as brian2's benchmark scripts write it). snnlab builds
them with ``vogels_abbott_cuba`` / ``vogels_abbott_coba`` (float32, numba engine; spikes
counted, not stored). brian2 runs in ``.venv-brian2`` as its users run it for speed:
cpp_standalone built once (``benchmarks/brian2_cuba.py serve``), then the compiled run
repeated, its own measured simulation time (``device._last_run_time``: the network run,
without build or synapse creation), spikes counted by ``SpikeMonitor(record=False)``. brian2's
timer is ``std::clock()``, the CPU time of the process, so snnlab's column is the CPU time of
its run too (``time.process_time``, one thread); snnlab's wall time is kept in the JSON. The
two sides alternate run by run (``--reps`` each, median). ``--runtime-targets`` adds brian2's
cython and numpy targets (one run each, compiled before timing). Writes
benchmarks/results/bench_sim.json and prints seconds per biological second and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from snnlab.sim import vogels_abbott_coba, vogels_abbott_cuba

ROOT = Path(__file__).resolve().parents[1]
BRIAN2 = ROOT / ".venv-brian2" / "bin" / "python"
SCRIPT = Path(__file__).with_name("brian2_cuba.py")
MODELS = {"cuba": vogels_abbott_cuba, "coba": vogels_abbott_coba}


class Brian2Standalone:
    """A brian2 cpp_standalone build of one model, run again on each :meth:`run`."""

    def __init__(self, model: str, seconds: float) -> None:
        cmd = [str(BRIAN2), str(SCRIPT), "serve", str(seconds), model]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for line in self.proc.stdout:
            if line.strip() == "ready":
                return
        raise RuntimeError(f"brian2 cpp_standalone build of {model} failed (exit {self.proc.wait()})")

    def run(self) -> dict:
        """One run; ``cpu_s`` is brian2's own timer (``std::clock``: CPU time of the process)."""
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return dict(out, cpu_s=out["wall_s"])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def snnlab_run(sim: object, steps: int) -> dict:
    """One timed snnlab run: CPU seconds of the process (what brian2's timer counts), wall, spikes."""
    wall, cpu = time.perf_counter(), time.process_time()
    res = sim.run([], steps=steps)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_s": cpu, "wall_clock_s": wall, "spikes": sum(res.counts["spikes"].values())}


def bench_model(model: str, seconds: float, reps: int, brian2: bool) -> list[dict]:
    """snnlab and brian2 cpp_standalone alternating; one row per tool (medians)."""
    net = MODELS[model]()
    sim = net.simulator(dtype=np.float32)
    steps = int(round(seconds / net.dt))
    sim.run([], steps=10)  # compile
    b2 = Brian2Standalone(model, seconds) if brian2 and BRIAN2.exists() else None
    runs: dict[str, list] = {"snnlab numba (float32)": [], "brian2 cpp_standalone": []}
    try:
        for _ in range(reps):
            runs["snnlab numba (float32)"].append(snnlab_run(sim, steps))
            if b2:
                runs["brian2 cpp_standalone"].append(b2.run())
    finally:
        if b2:
            b2.close()
    return [_row(model, tool, r, seconds) for tool, r in runs.items() if r]


def _row(model: str, tool: str, runs: list, seconds: float, key: str = "cpu_s") -> dict:
    wall = statistics.median(r[key] for r in runs)
    spikes = statistics.median(r["spikes"] for r in runs)
    events = spikes * 0.02 * 4000  # mean fan-out
    return {
        "model": model,
        "tool": tool,
        "s_per_bio_s": wall / seconds,
        "all_s_per_bio_s": [r[key] / seconds for r in runs],
        "wall_clock_s": [r.get("wall_clock_s") for r in runs],
        "rate_hz": spikes / 4000 / seconds,
        "events_per_s": events / wall,
    }


def runtime_target(model: str, target: str, seconds: float) -> dict | None:
    """One run of a brian2 runtime target (cython, numpy); None when it fails."""
    proc = subprocess.run(
        [str(BRIAN2), str(SCRIPT), target, str(seconds), model], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        print(f"brian2 {target} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return _row(model, f"brian2 {target} (wall)", [json.loads(proc.stdout.strip().splitlines()[-1])], seconds, "wall_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="biological seconds per run")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--models", default="cuba,coba")
    parser.add_argument("--runtime-targets", action="store_true", help="also brian2 cython and numpy (slow)")
    parser.add_argument("--skip-brian2", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default benchmarks/results/bench_sim.json)")
    args = parser.parse_args()
    rows = []
    for model in args.models.split(","):
        model_rows = bench_model(model, args.seconds, args.reps, not args.skip_brian2)
        if args.runtime_targets and BRIAN2.exists():
            model_rows += [r for r in (runtime_target(model, t, args.seconds) for t in ("cython", "numpy")) if r]
        ref = model_rows[0]["s_per_bio_s"]
        print(f"\n{model.upper()} 4000 neurons, 2 %, dt 0.1 ms, {args.seconds} s, median of {args.reps} alternating")
        print(f"{'tool (CPU s per bio-s)':26s} {'s/bio-s':>8s} {'vs snnlab':>9s} {'rate Hz':>8s} {'syn ev/s':>9s}")
        for r in model_rows:
            r["vs_snnlab"] = r["s_per_bio_s"] / ref
            print(
                f"{r['tool']:26s} {r['s_per_bio_s']:8.3f} {r['vs_snnlab']:9.2f} {r['rate_hz']:8.2f} "
                f"{r['events_per_s']:9.3g}"
            )
        rows += model_rows
    out = args.out or ROOT / "benchmarks" / "results" / "bench_sim.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
