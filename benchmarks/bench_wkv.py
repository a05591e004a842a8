"""Benchmark of the WKV op (SpikeGPT / RWKV time mixing), forward + backward, in one run.

Compares, at B = 8, T = 1024, C = 512 (float32) by default:

- snnlab ``numba``: the fused CPU kernels (one float32 forward scan that checkpoints its state
  every 16 tokens; backward = per segment, a recomputation from the checkpoint and a reverse
  sweep), parallel over batch rows x runs of channels;
- the per-step torch loop of the same recurrence with autograd (``snnlab.functional.wkv``, the
  reference: what one writes without a kernel);
- the bandwidth floor: the bytes the op must move at least (forward reads k, v and writes y;
  backward reads k, v, dL/dy and writes dL/dk, dL/dv: 8 x B T C x 4 bytes) at the copy bandwidth
  measured in the same run.

Timing: ``y = wkv(w, u, k, v); y.backward(g)`` on fresh leaf tensors each call, as a user
runs it (the torch side is the plain function: nothing to build). One warm-up call per side
(numba compiled and cached first), then ``--rounds`` rounds, each timing ``--repeat`` numba calls
and one torch-loop call, so both sides see the same machine load; medians over all calls.
The bandwidth is measured before and after the rounds (the larger is kept) and the load average
is recorded. Writes ``benchmarks/results/wkv.json``.

Usage: ``python benchmarks/bench_wkv.py [--B 8 --T 1024 --C 512] [--rounds 3 --repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numba
import torch

from snnlab.kernels import dispatch

FLOOR_ARRAYS = 8  # k, v, y (forward); k, v, gy, gk, gv (backward)


def bandwidth_gbs(nbytes: int = 256 * 2**20) -> float:
    """Copy bandwidth (read + write), GB/s, median of 7."""
    src = torch.randn(nbytes // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t0)
    return 2 * nbytes / statistics.median(times) / 1e9


def inputs(B: int, T: int, C: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    w = -torch.exp(torch.randn(C, generator=g))
    u = torch.randn(C, generator=g)
    k, v, gy = (torch.randn(B, T, C, generator=g) for _ in range(3))
    return w, u, k, v, gy


def time_call(backend: str, args: tuple[torch.Tensor, ...]) -> tuple[float, float]:
    """Wall and CPU (this process) seconds of one forward + backward on fresh leaf tensors."""
    w, u, k, v, gy = args
    leaves = [t.clone().requires_grad_() for t in (w, u, k, v)]
    t0, c0 = time.perf_counter(), time.process_time()
    dispatch("wkv", backend, *leaves).backward(gy)
    return time.perf_counter() - t0, time.process_time() - c0


def run_rounds(args: tuple[torch.Tensor, ...], rounds: int, repeat: int) -> dict[str, list]:
    """Interleaved timings: per round ``repeat`` numba calls, then one torch-loop call."""
    times: dict[str, list] = {"numba": [], "torch": []}
    time_call("numba", args), time_call("torch", args)  # warm-up: compilation, allocator
    for _ in range(rounds):
        times["numba"] += [time_call("numba", args) for _ in range(repeat)]
        times["torch"].append(time_call("torch", args))
    return times


def median(pairs: list, i: int) -> float:
    return statistics.median(p[i] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--B", type=int, default=8)
    parser.add_argument("--T", type=int, default=1024)
    parser.add_argument("--C", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "wkv.json"))
    opt = parser.parse_args()
    args = inputs(opt.B, opt.T, opt.C)
    load_before, bw_before = os.getloadavg()[0], bandwidth_gbs()
    times = run_rounds(args, opt.rounds, opt.repeat)
    bw = max(bw_before, bandwidth_gbs())
    numba_s, numba_cpu = median(times["numba"], 0), median(times["numba"], 1)
    torch_s, torch_cpu = median(times["torch"], 0), median(times["torch"], 1)
    floor_s = FLOOR_ARRAYS * opt.B * opt.T * opt.C * 4 / (bw * 1e9)
    row = {
        "B": opt.B,
        "T": opt.T,
        "C": opt.C,
        "dtype": "float32",
        "numba_s": numba_s,
        "torch_loop_s": torch_s,
        "bandwidth_gbs": bw,
        "floor_s": floor_s,
        "speedup_vs_torch_loop": torch_s / numba_s,
        "numba_vs_floor": numba_s / floor_s,
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "numba_cpu_s": numba_cpu,
        "torch_loop_cpu_s": torch_cpu,
        "speedup_cpu": torch_cpu / numba_cpu,
        "numba_calls": len(times["numba"]),
        "torch_calls": len(times["torch"]),
        "load_average": [load_before, os.getloadavg()[0]],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(
        f"WKV fwd+bwd B={opt.B} T={opt.T} C={opt.C} float32; threads: torch {torch.get_num_threads()}, "
        f"numba {numba.get_num_threads()}; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"  snnlab numba        {numba_s * 1e3:9.1f} ms wall  {numba_cpu * 1e3:9.1f} ms CPU")
    print(
        f"  torch loop+autograd {torch_s * 1e3:9.1f} ms wall  {torch_cpu * 1e3:9.1f} ms CPU   "
        f"({torch_s / numba_s:.1f}x wall, {torch_cpu / numba_cpu:.1f}x CPU slower than numba)"
    )
    print(
        f"  bandwidth floor   {floor_s * 1e3:9.2f} ms   at {bw:.1f} GB/s (numba is {numba_s / floor_s:.1f}x the floor)"
    )
    Path(opt.out).parent.mkdir(parents=True, exist_ok=True)
    Path(opt.out).write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
