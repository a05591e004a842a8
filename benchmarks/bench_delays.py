"""Time learnable delays: snnlab DelayedLinear vs the dcls package, SHD sizes, forward+backward.

Network of delay layers 140 -> 256 -> 256 -> 20 (max_delay 25, T = 100 steps, spike input of
density 10 %), sigma late in training (0.23: width 0.5, 4 taps per synapse) and early (12), and
evaluation with integer delays. snnlab's layers use their default path choice (``auto``: since
2026-12-03 the dense spectral path in training at both sigmas, the integer taps in evaluation). Each side runs in its own fresh subprocess (so snnlab's
import-time settings and thread pools cannot touch dcls); in it every case is timed as the
median of ``repeats`` calls after a warm-up. Prints a table with ratios (dcls time / snnlab time) and
writes JSON to benchmarks/results/.

    python benchmarks/bench_delays.py            # B in 32, 128, 256
    python benchmarks/bench_delays.py --quick    # B = 32 only, fewer repeats
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as TF
from bench_neurons import PeakRSS, _mmap_large_blocks
from bench_neurons import _clear_pool as clear_pool

SIZES = (140, 256, 256, 20)
K, T = 25, 100


def ours(sigma: float) -> list[torch.nn.Module]:
    from snnlab.nn import DelayedLinear

    return [DelayedLinear(a, b, K, sigma_init=sigma) for a, b in zip(SIZES, SIZES[1:])]


def theirs(sigma: float) -> list[torch.nn.Module]:
    from DCLS.construct.modules import Dcls1d

    layers = [
        Dcls1d(a, b, kernel_count=1, dilated_kernel_size=K, bias=False, version="gauss")
        for a, b in zip(SIZES, SIZES[1:])
    ]
    for layer in layers:
        layer.SIG.requires_grad_(False)
        layer.SIG.data.fill_(sigma)
    return layers


def run_ours(layers: list[torch.nn.Module], x: torch.Tensor, train: bool) -> None:
    h = x
    with torch.set_grad_enabled(train):
        for layer in layers:
            layer.train(train)
            h = layer(h)
        if train:
            h.sum().backward()


def run_theirs(layers: list[torch.nn.Module], x: torch.Tensor, train: bool) -> None:
    h = x.permute(1, 2, 0)  # (B, C, T)
    with torch.set_grad_enabled(train):
        for layer in layers:
            h = layer(TF.pad(h, (K - 1, (K - 1) // 2)))
        if train:
            h.sum().backward()


def timed(fn: Callable[[], None], repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` calls after a warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mb(fn: Callable[[], None]) -> float:
    """Peak resident-memory growth over one call (MB), after snnlab's buffer pool is emptied.

    Resident memory sees every buffer, torch's and snnlab's pooled numpy ones alike (glibc is
    made to map and unmap every large block, as in bench_neurons.py); emptying the pool first
    makes the call allocate everything it needs, as the first step of a run does.
    """
    clear_pool()
    with PeakRSS() as peak:
        fn()
    return peak.mb


def bench_side(side: str, cases: list[tuple[int, str]], repeats: int) -> list[dict]:
    """Time every case for one side ("snnlab" or "dcls") in its own subprocess; ``repeats == 0``: memory only."""
    if repeats == 0:
        _mmap_large_blocks()  # before any allocation, in the memory process only: it would slow timed calls
    rows = []
    for batch, mode in cases:
        torch.manual_seed(0)
        sigma = 12.0 if mode == "train_early" else 0.23
        train = mode != "eval"
        x = (torch.rand(T, batch, SIZES[0]) < 0.1).float()
        layers = ours(sigma) if side == "snnlab" else theirs(sigma)
        run = run_ours if side == "snnlab" else run_theirs
        if repeats:
            rows.append({"s": timed(lambda: run(layers, x, train), repeats)})
        else:
            run(layers, x, train)  # warm-up
            rows.append({"peak_mb": peak_mb(lambda: run(layers, x, train))})
    return rows


def run_side(side: str, cases: list[tuple[int, str]], repeats: int) -> list[dict]:
    """Run :func:`bench_side` in a fresh process; snnlab's gets passive OpenMP waiting, as ``import snnlab`` sets."""
    env = dict(os.environ)
    if side == "snnlab":
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cmd = [sys.executable, __file__, "--side", json.dumps([side, cases, repeats])]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads([ln for ln in out.splitlines() if ln.startswith("[")][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="B = 32 only, 3 repeats")
    parser.add_argument("--batches", default="32,128,256", help="comma-separated batch sizes")
    parser.add_argument("--out", default="benchmarks/results/delays.json")
    parser.add_argument("--side", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(bench_side(*json.loads(args.side))), flush=True)
        return
    batches = (32,) if args.quick else tuple(int(b) for b in args.batches.split(","))
    repeats = 3 if args.quick else 5
    cases = [(b, mode) for b in batches for mode in ("train_late", "train_early", "eval")]
    ours_rows, dcls_rows = run_side("snnlab", cases, repeats), run_side("dcls", cases, repeats)
    for rows_, side in ((ours_rows, "snnlab"), (dcls_rows, "dcls")):  # memory: one more fresh process per side
        for row, mem in zip(rows_, run_side(side, cases, 0)):
            row.update(mem)
    rows = [
        {
            "batch": b,
            "mode": m,
            "snnlab_s": o["s"],
            "dcls_s": d["s"],
            "speedup": d["s"] / o["s"],
            "snnlab_peak_mb": o["peak_mb"],
            "dcls_peak_mb": d["peak_mb"],
        }
        for (b, m), o, d in zip(cases, ours_rows, dcls_rows)
    ]
    print(f"{'B':>4} {'mode':<12} {'snnlab s':>9} {'dcls s':>9} {'speedup':>8} {'peak MB':>8} {'dcls MB':>8}")
    for r in rows:
        print(
            f"{r['batch']:>4} {r['mode']:<12} {r['snnlab_s']:9.3f} {r['dcls_s']:9.3f} {r['speedup']:7.2f}x "
            f"{r['snnlab_peak_mb']:8.1f} {r['dcls_peak_mb']:8.1f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": date.today().isoformat(),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "method": "one subprocess per side, median after a warm-up",
        "T": T,
        "max_delay": K,
        "sizes": SIZES,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
