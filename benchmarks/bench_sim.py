"""Event-driven simulator benchmark: (a) Vogels-Abbott CUBA vs brian2, (b) MLP crossover vs dense torch.

Usage: python benchmarks/bench_sim.py [--cuba-seconds 1.0] [--skip-brian2] [--repeats 3]
Writes benchmarks/results/bench_sim.json and prints a table with ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import nir
import numpy as np
import torch

from snnlab.sim import Simulator, vogels_abbott_cuba

ROOT = Path(__file__).resolve().parents[1]
BRIAN2 = ROOT / ".venv-brian2" / "bin" / "python"


def bench_cuba(seconds: float) -> dict:
    """snnlab CUBA: wall seconds per simulated second and synaptic events per second."""
    net = vogels_abbott_cuba()
    sim = net.simulator(dtype=np.float32)  # spikes counted, not stored (brian2 side likewise)
    sim.run([], steps=10)  # compile
    steps = int(round(seconds / net.dt))
    start = time.perf_counter()
    res = sim.run([], steps=steps)
    wall = time.perf_counter() - start
    events = res.total_synaptic_events()
    return {
        "tool": "snnlab numba",
        "s_per_bio_s": wall / seconds,
        "events_per_s": events / wall,
        "rate_hz": sum(res.counts["spikes"].values()) / 4000 / seconds,
    }


def bench_brian2(target: str, seconds: float) -> dict | None:
    """brian2 CUBA through the separate venv; None when it is absent or fails."""
    if not BRIAN2.exists():
        return None
    proc = subprocess.run(
        [str(BRIAN2), str(Path(__file__).with_name("brian2_cuba.py")), target, str(seconds)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        print(f"brian2 {target} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    events = out["spikes"] * out["synapses"] / 4000  # mean fan-out 0.02 * 4000
    return {
        "tool": f"brian2 {target}",
        "s_per_bio_s": out["wall_s"] / seconds,
        "events_per_s": events / out["wall_s"],
        "rate_hz": out["spikes"] / 4000 / seconds,
    }


def mlp_graph(ws: list, thresholds: list) -> nir.NIRGraph:
    """Linear -> LIF (tau 2 steps, hard reset) chain with one threshold per layer."""
    nodes = {"input": nir.Input(np.array([ws[0].shape[1]])), "output": nir.Output(np.array([ws[-1].shape[0]]))}
    edges, prev = [], "input"
    for i, (w, th) in enumerate(zip(ws, thresholds)):
        b = w.shape[0]
        nodes[f"fc{i}"] = nir.Linear(w)
        nodes[f"lif{i}"] = nir.LIF(
            tau=np.full(b, 2e-3), r=np.ones(b), v_leak=np.zeros(b), v_threshold=np.full(b, th), v_reset=np.zeros(b)
        )
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes, edges, metadata={"dt": 1e-3})


def lif_dense(cur: torch.Tensor, th: float) -> torch.Tensor:
    """LIF (tau 2, decay_input, hard reset) over (T, B, N) currents; spikes (T, B, N)."""
    v, out = torch.zeros_like(cur[0]), []
    for t in range(cur.shape[0]):
        v = v + (cur[t] - v) / 2.0
        s = (v >= th).float()
        v = v * (1 - s)
        out.append(s)
    return torch.stack(out)


def dense_torch(ws: list, thresholds: list, x: torch.Tensor) -> tuple[float, list]:
    """Dense reference (float32): one matmul over all steps per layer + a LIF loop; time and rates."""
    start = time.perf_counter()
    h, rates = x, []
    for w, th in zip(ws, thresholds):
        h = lif_dense(h @ torch.tensor(w, dtype=torch.float32).T, th)
        rates.append(float(h.mean()))
    return time.perf_counter() - start, rates


def calibrate(ws: list, x: torch.Tensor, rate: float) -> list:
    """Per-layer thresholds (bisection on a log scale) that make each hidden layer fire at ``rate``."""
    thresholds, h = [], x
    for w in ws:
        cur = h @ torch.tensor(w, dtype=torch.float32).T
        lo, hi = 1e-3, 1e3
        for _ in range(30):
            mid = float(np.sqrt(lo * hi))
            lo, hi = (mid, hi) if float(lif_dense(cur, mid).mean()) > rate else (lo, mid)
        thresholds.append(float(np.sqrt(lo * hi)))
        h = lif_dense(cur, thresholds[-1])
    return thresholds


def bench_mlp(rates=(0.01, 0.02, 0.05, 0.1, 0.2), steps=100, batch=32, sizes=(700, 256, 256, 20)) -> list[dict]:
    """Event-driven vs dense torch with input and hidden layers all firing at each target rate."""
    rng = np.random.default_rng(0)
    ws = [rng.normal(0.0, 1.0, (b, a)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    rows = []
    for rate in rates:
        x = (rng.random((steps, batch, sizes[0])) < rate).astype(np.float32)
        thresholds = calibrate(ws, torch.tensor(x), rate)
        sim = Simulator(mlp_graph(ws, thresholds), dtype=np.float32)
        sim.run(x[:2])
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            res = sim.run(x)
            walls.append(time.perf_counter() - start)
        wall = min(walls)
        dense, measured = min(dense_torch(ws, thresholds, torch.tensor(x)) for _ in range(3))
        ev = res.total_synaptic_events()
        rows.append(
            {
                "target_rate": rate,
                "layer_rates": measured,
                "event_s": wall,
                "dense_torch_s": dense,
                "speedup": dense / wall,
                "events_per_s": ev / wall,
                "synaptic_events": ev,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuba-seconds", type=float, default=1.0)
    parser.add_argument("--skip-brian2", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="snnlab CUBA runs; the fastest is reported")
    args = parser.parse_args()
    torch.set_num_threads(2)
    cuba = [min((bench_cuba(args.cuba_seconds) for _ in range(args.repeats)), key=lambda r: r["s_per_bio_s"])]
    if not args.skip_brian2:
        cuba += [r for r in (bench_brian2(t, args.cuba_seconds) for t in ("cython", "numpy", "cpp_standalone")) if r]
    print("\n(a) CUBA 4000 neurons, 2 %, dt 0.1 ms")
    print(f"{'tool':24s} {'s/bio-s':>9s} {'syn ev/s':>10s} {'rate Hz':>8s} {'vs snnlab':>9s}")
    for r in cuba:
        print(
            f"{r['tool']:24s} {r['s_per_bio_s']:9.3f} {r['events_per_s']:10.3g} {r['rate_hz']:8.2f} "
            f"{r['s_per_bio_s'] / cuba[0]['s_per_bio_s']:9.2f}"
        )
    mlp = bench_mlp()
    print("\n(b) MLP 700-256-256-20, T=100, B=32, float32")
    print(f"{'target':>6s} {'layer rates':>20s} {'event s':>8s} {'dense s':>8s} {'dense/event':>11s} {'syn ev/s':>10s}")
    for r in mlp:
        lr = "/".join(f"{v:.3f}" for v in r["layer_rates"])
        print(
            f"{r['target_rate']:6.2f} {lr:>20s} {r['event_s']:8.3f} {r['dense_torch_s']:8.3f} {r['speedup']:11.2f} "
            f"{r['events_per_s']:10.3g}"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_sim.json").write_text(json.dumps({"cuba": cuba, "mlp": mlp}, indent=1))


if __name__ == "__main__":
    main()
