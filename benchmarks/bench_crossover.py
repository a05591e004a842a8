"""Event-driven simulation against dense inference over activity: where does the event path win?

Usage: python benchmarks/bench_crossover.py [--rates 0.005,0.01,...] [--reps 5] [--batch 32]

The network is a Linear -> LIF chain 700-256-256-20 (T = 100 steps, float32; the SHD MLP's
shape). Weights are random normal / sqrt(fan-in); each layer's threshold is set by bisection
so that the input and every hidden layer fire at the target rate (the measured rates are
printed). Both sides run the same NIR graph:

- event-driven: ``snnlab.sim.Simulator`` (numba engine), spikes in, synaptic events only for
  the spikes that occur;
- dense: the module ``snnlab.ir.from_nir`` rebuilds from the graph (torch GEMMs over all
  ``T * B`` rows, snnlab's fused LIF kernels), as ``snnlab eval`` runs a model, under
  ``torch.inference_mode``.

The sides alternate, each timed ``--reps`` times per rate (median), on one process; torch
and numba use the threads the environment gives. The script checks that both fire the same
output spikes, prints dense/event per rate and the crossover (the rate where the ratio is 1,
interpolated on log-log axes), and writes benchmarks/results/bench_crossover.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import nir
import numpy as np
import torch

from snnlab.ir import from_nir
from snnlab.sim import Simulator

ROOT = Path(__file__).resolve().parents[1]
SIZES = (700, 256, 256, 20)


def mlp_graph(ws: list, thresholds: list) -> nir.NIRGraph:
    """Linear -> LIF (tau 2 steps, hard reset to 0) chain with one threshold per layer."""
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


def lif_rate(cur: torch.Tensor, th: float) -> torch.Tensor:
    """Spikes (T, B, N) of LIF (tau 2 steps, hard reset) on currents (T, B, N); for calibration only."""
    v, out = torch.zeros_like(cur[0]), []
    for t in range(cur.shape[0]):
        v = v + (cur[t] - v) / 2.0
        s = (v >= th).float()
        v = v * (1 - s)
        out.append(s)
    return torch.stack(out)


def calibrate(ws: list, x: torch.Tensor, rate: float) -> list:
    """Per-layer thresholds (bisection on a log scale) that make each hidden layer fire at ``rate``."""
    thresholds, h = [], x
    for w in ws[:-1]:
        cur = h @ torch.tensor(w, dtype=torch.float32).T
        lo, hi = 1e-3, 1e3
        for _ in range(30):
            mid = float(np.sqrt(lo * hi))
            lo, hi = (mid, hi) if float(lif_rate(cur, mid).mean()) > rate else (lo, mid)
        thresholds.append(float(np.sqrt(lo * hi)))
        h = lif_rate(cur, thresholds[-1])
    return thresholds + [1.0]


def _timed(fn, *args) -> tuple[float, float, object]:
    """Wall and CPU seconds (all threads of the process) of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench_rate(ws: list, rate: float, steps: int, batch: int, reps: int, rng: np.random.Generator) -> dict:
    """Median event and dense times at one activity, the measured rates and the spike check."""
    x = (rng.random((steps, batch, SIZES[0])) < rate).astype(np.float32)
    graph = mlp_graph(ws, calibrate(ws, torch.tensor(x), rate))
    sim = Simulator(graph, dtype=np.float32)
    model = from_nir(graph)
    xt = torch.tensor(x)

    def dense(inp: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(inp)

    sim.run(x[:2])
    dense(xt[:2])
    times: dict[str, list] = {"event": [], "dense": [], "event_cpu": [], "dense_cpu": []}
    for _ in range(reps):
        wall, cpu, res = _timed(sim.run, x)
        times["event"].append(wall)
        times["event_cpu"].append(cpu)
        wall, cpu, out = _timed(dense, xt)
        times["dense"].append(wall)
        times["dense_cpu"].append(cpu)
    same = bool(np.array_equal(res.dense("output"), out.numpy() > 0))
    rates = [float(x.mean())] + [res.counts["spikes"][k] / (steps * batch * 256) for k in ("lif0", "lif1")]
    med = {k: statistics.median(v) for k, v in times.items()}
    syn = res.total_synaptic_events()
    return {
        "target_rate": rate,
        "layer_rates": rates,
        **{f"{k}_s": v for k, v in med.items()},
        "dense_over_event": med["dense"] / med["event"],
        "cpu_dense_over_event": med["dense_cpu"] / med["event_cpu"],
        "synaptic_events": syn,
        "events_per_s": syn / med["event"],
        "same_output_spikes": same,
    }


def crossover(rows: list, key: str = "dense_over_event") -> float | None:
    """Rate where dense/event (``key``) crosses 1, interpolated on log-log axes; None when it does not."""
    for a, b in zip(rows, rows[1:]):
        ra, rb = a[key], b[key]
        if ra >= 1 > rb:
            f = np.log(ra) / (np.log(ra) - np.log(rb))
            return float(np.exp(np.log(a["target_rate"]) + f * (np.log(b["target_rate"]) - np.log(a["target_rate"]))))
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="0.005,0.01,0.02,0.03,0.05,0.07,0.1,0.15,0.2")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON file (default benchmarks/results/bench_crossover.json)"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ws = [rng.normal(0.0, 1.0, (b, a)) / np.sqrt(a) for a, b in zip(SIZES[:-1], SIZES[1:])]
    rows = [bench_rate(ws, float(r), args.steps, args.batch, args.reps, rng) for r in args.rates.split(",")]
    print(
        f"MLP {'-'.join(map(str, SIZES))}, T={args.steps}, B={args.batch}, float32, torch threads {torch.get_num_threads()}"
    )
    head = f"{'rate':>6s} {'layer rates':>20s} {'event s':>8s} {'dense s':>8s} {'dense/event':>11s} {'(CPU)':>6s}"
    print(head + f" {'syn ev/s':>9s} same")
    for r in rows:
        lr = "/".join(f"{v:.3f}" for v in r["layer_rates"])
        print(
            f"{r['target_rate']:6.3f} {lr:>20s} {r['event_s']:8.4f} {r['dense_s']:8.4f} {r['dense_over_event']:11.2f} "
            f"{r['cpu_dense_over_event']:6.2f} {r['events_per_s']:9.3g} {r['same_output_spikes']}"
        )
    cross = {
        name: crossover(rows, key) for name, key in (("wall", "dense_over_event"), ("cpu", "cpu_dense_over_event"))
    }
    for name, c in cross.items():
        print(f"crossover ({name} time): {'none in the range' if c is None else f'{100 * c:.1f} % activity'}")
    out = args.out or ROOT / "benchmarks" / "results" / "bench_crossover.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "crossover": cross}, indent=1))


if __name__ == "__main__":
    main()
