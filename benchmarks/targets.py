"""Re-check every performance target of the issues on this machine, in one command.

Runs each target's benchmark script as benchmarks/README.md documents it (its own process, the
thread settings of the documented run), reads the JSON the script writes, and prints one table:
target, what was measured, met or not. The ratios move with the host (the same code gave the
event-driven simulator 2.55x brian2's speed on one 2-core VM and 0.65x on another, before a fix),
so run this on an idle machine before quoting a number, and keep the JSON it writes
(``benchmarks/results/targets-<date>.json``: the rows, the host, the load average,
and each benchmark's own JSON).

    python benchmarks/targets.py                    # all targets (~6 minutes on 2 cores)
    python benchmarks/targets.py --only sim-cuba,crossover
    python benchmarks/targets.py --list             # the targets and their commands, nothing run

Each target names its issue item. ``extract`` turns the script's JSON into the measured value;
the tests run every ``extract`` on the result files recorded in ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TWO = {"OMP_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
ONE = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# one run read by several targets (run_target runs each script and argument list once)
MAXFORMER_RUN = ("--processes", "4", "--steps", "6", "--warmup", "2", "--json", "{out}")
SIM_RUN = ("--reps", "5", "--out", "{out}")


@dataclass(frozen=True)
class Target:
    """One performance target: the benchmark run that measures it and how to read the result."""

    name: str
    issue: str  # issue and item, e.g. "19.3"
    what: str
    script: str
    args: tuple[str, ...]  # ``{out}`` is replaced by the JSON path
    extract: Callable[[Any], float]
    goal: float
    higher_is_better: bool = True
    unit: str = "x"
    env: dict[str, str] = field(default_factory=dict)  # thread settings; absent: the caller's are removed

    def met(self, value: float) -> bool:
        return value >= self.goal if self.higher_is_better else value <= self.goal

    def command(self, out: Path) -> list[str]:
        return [sys.executable, str(HERE / self.script), *(a.replace("{out}", str(out)) for a in self.args)]

    def describe_goal(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.goal:g}{self.unit}"


def neurons_speedup(d: dict) -> float:
    """Fastest peer's forward + backward time over snnlab's (numba) on the first case."""
    rows = d["rows"]
    ours = next(r["total_s"] for r in rows if r["framework"] == "snnlab-numba")
    return min(r["total_s"] for r in rows if not r["framework"].startswith("snnlab")) / ours


def train_pooled(net: str) -> Callable[[dict], float]:
    """``bench_train.py``'s pooled ratio (median step of the fastest peer over snnlab's)."""
    return lambda d: float(d["summary"][net]["pooled"])


def ddp_ratio(d: dict) -> float:
    return d["median"]["N"] / d["median"]["1"]


def sim_ratio(model: str) -> Callable[[list], float]:
    """brian2 cpp_standalone's CPU time per biological second over snnlab's."""

    def ratio(rows: list) -> float:
        by_tool = {r["tool"]: r["s_per_bio_s"] for r in rows if r["model"] == model}
        return by_tool["brian2 cpp_standalone"] / by_tool["snnlab numba (float32)"]

    return ratio


def crossover_percent(d: dict) -> float:
    c = d["crossover"]["wall"]
    return 0.0 if c is None else 100.0 * c


def maxformer_ratio(peer: str) -> Callable[[dict], float]:
    def ratio(d: dict) -> float:
        rows = {r["variant"]: r for r in d["rows"]}
        return rows[peer]["median_s"] / rows["snnlab"]["median_s"]

    return ratio


def maxformer_memory(d: dict) -> float:
    """snnlab's peak memory over the smallest peer's (the stricter of the two peer layouts)."""
    rows = {r["variant"]: r for r in d["rows"]}
    return rows["snnlab"]["peak_mb"] / min(r["peak_mb"] for v, r in rows.items() if v != "snnlab")


def wkv_floor(d: dict) -> float:
    return float(d["numba_vs_floor"])


TARGETS: tuple[Target, ...] = (
    # brian2's builds (sim) load the machine for a while: they run last
    Target(
        "neurons",
        "19.0",
        "LIF T 100, B 32, N 4096, forward + backward: fastest peer / snnlab",
        "bench_neurons.py",
        ("--case", "lif:100:32:4096", "--frameworks", "snnlab-numba,spikingjelly-torch", "--out", "{out}"),
        neurons_speedup,
        5.0,
        env=TWO,
    ),
    Target(
        "train-mlp",
        "19.1",
        "SHD LIF MLP training step, pooled over 3 processes: spikingjelly / snnlab",
        "bench_train.py",
        ("--net", "mlp", "--frameworks", "snnlab,spikingjelly", "--procs", "3", "--no-memory", "--out", "{out}"),
        train_pooled("mlp"),
        3.0,
        env=TWO,
    ),
    Target(
        "train-delay",
        "19.1",
        "SHD delay network training step: spikingjelly + DCLS / snnlab",
        "bench_train.py",
        ("--net", "delay", "--frameworks", "snnlab,spikingjelly", "--reps", "5", "--no-memory", "--out", "{out}"),
        train_pooled("delay"),
        3.0,
        env=TWO,
    ),
    Target(
        "crossover",
        "19.4",
        "activity where event-driven inference stops beating dense (wall)",
        "bench_crossover.py",
        ("--reps", "3", "--out", "{out}"),
        crossover_percent,
        5.0,
        unit=" %",
        env=TWO,
    ),
    Target(
        "maxformer",
        "13",
        "reduced maxformer_cifar training step: spikingjelly on snnlab's layout / snnlab",
        "bench_maxformer.py",
        MAXFORMER_RUN,
        maxformer_ratio("spikingjelly"),
        2.0,
        env=TWO,
    ),
    Target(
        "maxformer-nchw",
        "13",
        "the same run: spikingjelly on contiguous maps (its users' layout) / snnlab",
        "bench_maxformer.py",
        MAXFORMER_RUN,
        maxformer_ratio("spikingjelly-nchw"),
        2.0,
        env=TWO,
    ),
    Target(
        "maxformer-memory",
        "13",
        "the same run: snnlab's peak memory / the smaller peer's",
        "bench_maxformer.py",
        MAXFORMER_RUN,
        maxformer_memory,
        1.0,
        higher_is_better=False,
        unit="",
        env=TWO,
    ),
    Target(
        "wkv",
        "14",
        "SpikeGPT WKV forward + backward: snnlab / bandwidth floor",
        "bench_wkv.py",
        ("--out", "{out}"),
        wkv_floor,
        3.0,
        higher_is_better=False,
        env=TWO,
    ),
    Target(
        "ddp",
        "19.2",
        "snnlab train, SHD LIF MLP: 2 processes / 1 process (samples/s)",
        "bench_ddp.py",
        ("--samples", "2048", "--epochs", "3", "--rounds", "2", "--variants", "1,N", "--out", "{out}"),
        ddp_ratio,
        1.3,
    ),
    Target(
        "sim-cuba",
        "19.3",
        "CUBA 4,000 neurons: brian2 cpp_standalone / snnlab (CPU s per biological s)",
        "bench_sim.py",
        SIM_RUN,
        sim_ratio("cuba"),
        1.0,
        env=ONE,
    ),
    Target(
        "sim-coba",
        "19.3",
        "COBA 4,000 neurons: brian2 cpp_standalone / snnlab",
        "bench_sim.py",
        SIM_RUN,
        sim_ratio("coba"),
        1.0,
        env=ONE,
    ),
)


def host() -> dict[str, Any]:
    """What the numbers depend on: CPU model, AVX-512 or not, cores."""
    info: dict[str, Any] = {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}
    with contextlib.suppress(OSError, StopIteration):  # not Linux: the fields stay out
        text = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
        info["avx512"] = " avx512f" in text
    return info


def run_target(t: Target, folder: Path, cache: dict[tuple, Any], pause: float = 0.0) -> dict[str, Any]:
    """Run ``t``'s benchmark (once per script and arguments, after ``pause`` seconds idle) and evaluate it."""
    key = (t.script, t.args)
    if key not in cache:
        time.sleep(pause)  # let the previous benchmark's processes and page cache settle
        out = folder / f"{t.name}.json"
        env = {k: v for k, v in os.environ.items() if k not in TWO}
        env.update(t.env)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        load, t0 = os.getloadavg()[0], time.perf_counter()
        proc = subprocess.run(t.command(out), env=env, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
            cache[key] = {"error": f"exit {proc.returncode}: {tail}", "seconds": seconds, "load": load}
        else:
            text = out.read_text().replace(json.dumps(str(folder))[1:-1], "<tmp>")  # no local paths in the record
            cache[key] = {"result": json.loads(text), "seconds": seconds, "load": load}
    run = cache[key]
    row = {"target": t.name, "issue": t.issue, "what": t.what, "goal": t.describe_goal(), "seconds": run["seconds"]}
    row["load_before"] = run["load"]
    if "error" in run:
        return {**row, "value": None, "met": None, "error": run["error"]}
    try:
        value = t.extract(run["result"])
    except (KeyError, IndexError, StopIteration, TypeError, ValueError, ZeroDivisionError) as e:
        # e.g. bench_sim.py without brian2 writes snnlab's rows only: report it, go on with the other targets
        return {**row, "value": None, "met": None, "error": f"{t.script}'s JSON has no value for {t.name}: {e!r}"}
    return {**row, "value": value, "met": t.met(value)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="comma-separated target names (see --list)")
    ap.add_argument("--list", action="store_true", help="print the targets and their commands, run nothing")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default benchmarks/results/targets-<date>.json)")
    ap.add_argument("--pause", type=float, default=10.0, help="seconds idle before each benchmark (default 10)")
    args = ap.parse_args(argv)
    names = [t.name for t in TARGETS]
    chosen = list(TARGETS)
    if args.only:
        wanted = args.only.split(",")
        unknown = [n for n in wanted if n not in names]
        if unknown:
            print(f"error: --only: unknown target(s) {', '.join(unknown)}; valid: {', '.join(names)}", file=sys.stderr)
            return 2
        chosen = [t for t in TARGETS if t.name in wanted]
    if args.list:
        for t in chosen:
            env = " ".join(f"{k}={v}" for k, v in t.env.items())
            cmd = " ".join(["python", f"benchmarks/{t.script}", *t.args]).replace("{out}", "FILE.json")
            print(f"{t.name:<17}#{t.issue:<5} {t.describe_goal():<8} {(env + ' ') if env else ''}{cmd}")
        return 0
    rows, cache = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, t in enumerate(chosen, 1):
            print(f"[{i}/{len(chosen)}] {t.name}: {t.script} ...", flush=True)
            rows.append(run_target(t, Path(tmp), cache, args.pause))
    print(f"\n{'target':<17}{'issue':<7}{'measured':>10}  {'goal':<9}{'met':<5}{'load':>5}  what")
    for r in rows:
        value = "error" if r["value"] is None else f"{r['value']:.2f}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        print(
            f"{r['target']:<17}{r['issue']:<7}{value:>10}  {r['goal']:<9}{met:<5}{r['load_before']:>5.1f}  {r['what']}"
        )
        if "error" in r:
            print(f"{'':<17}{r['error']}")
    info = {**host(), "date": time.strftime("%Y-%m-%d %H:%M"), "load_after": os.getloadavg()[0]}
    print(
        f"\nhost: {info.get('cpu', info['machine'])}, {info['cores']} cores, AVX-512 {info.get('avx512')}; {info['date']}"
    )
    out = args.out or HERE / "results" / f"targets-{time.strftime('%Y-%m-%d-%H%M')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = [{"script": k[0], "args": list(k[1]), **v} for k, v in cache.items()]  # each script's own JSON
    out.write_text(json.dumps({"host": info, "rows": rows, "runs": raw}, indent=1))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
