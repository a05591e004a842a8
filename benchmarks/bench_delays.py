"""Time learnable delays: snnlab DelayedLinear vs the dcls package, SHD sizes, forward+backward.

Network of delay layers 140 -> 256 -> 256 -> 20 (max_delay 25, T = 100 steps, spike input of
density 10 %), sigma late in training (0.23: width 0.5, 4 taps per synapse) and early (12), and
evaluation with integer delays. Prints a table with ratios (dcls time / snnlab time) and
writes JSON to benchmarks/results/.

    python benchmarks/bench_delays.py            # B in 32, 128, 256
    python benchmarks/bench_delays.py --quick    # B = 32 only, fewer repeats
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import date
from typing import Callable
from pathlib import Path

from bench_neurons import PeakRSS, _clear_pool as clear_pool  # also sets the allocator as there

import torch
import torch.nn.functional as TF

from snnlab.nn import DelayedLinear

SIZES = (140, 256, 256, 20)
K, T = 25, 100


def ours(sigma: float) -> list[DelayedLinear]:
    return [DelayedLinear(a, b, K, sigma_init=sigma) for a, b in zip(SIZES, SIZES[1:])]


def theirs(sigma: float) -> list[torch.nn.Module]:
    from DCLS.construct.modules import Dcls1d

    layers = [Dcls1d(a, b, kernel_count=1, dilated_kernel_size=K, bias=False, version="gauss")
              for a, b in zip(SIZES, SIZES[1:])]
    for layer in layers:
        layer.SIG.requires_grad_(False)
        layer.SIG.data.fill_(sigma)
    return layers


def run_ours(layers: list[DelayedLinear], x: torch.Tensor, train: bool) -> None:
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


def timed_pair(fa: Callable[[], None], fb: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median seconds of ``fa`` and ``fb`` over ``repeats`` alternating calls after a warm-up.

    Alternating the two keeps a change of load on the shared machine from favouring either side.
    """
    fa(), fb()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((fa, times[0]), (fb, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


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


def bench_case(batch: int, mode: str, repeats: int) -> dict:
    torch.manual_seed(0)
    sigma = 12.0 if mode == "train_early" else 0.23
    train = mode != "eval"
    x = (torch.rand(T, batch, SIZES[0]) < 0.1).float()
    a, b = ours(sigma), theirs(sigma)
    f_ours = lambda: run_ours(a, x, train)  # noqa: E731
    f_theirs = lambda: run_theirs(b, x, train)  # noqa: E731
    t_ours, t_theirs = timed_pair(f_ours, f_theirs, repeats)
    return {"batch": batch, "mode": mode, "snnlab_s": t_ours, "dcls_s": t_theirs,
            "speedup": t_theirs / t_ours, "snnlab_peak_mb": peak_mb(f_ours), "dcls_peak_mb": peak_mb(f_theirs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="B = 32 only, 3 repeats")
    parser.add_argument("--batches", default="32,128,256", help="comma-separated batch sizes")
    parser.add_argument("--out", default="benchmarks/results/delays.json")
    args = parser.parse_args()
    batches = (32,) if args.quick else tuple(int(b) for b in args.batches.split(","))
    repeats = 3 if args.quick else 5
    rows = [bench_case(b, mode, repeats) for b in batches for mode in ("train_late", "train_early", "eval")]
    print(f"{'B':>4} {'mode':<12} {'snnlab s':>9} {'dcls s':>9} {'speedup':>8} {'peak MB':>8} {'dcls MB':>8}")
    for r in rows:
        print(f"{r['batch']:>4} {r['mode']:<12} {r['snnlab_s']:9.3f} {r['dcls_s']:9.3f} {r['speedup']:7.2f}x "
              f"{r['snnlab_peak_mb']:8.1f} {r['dcls_peak_mb']:8.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "T": T, "max_delay": K, "sizes": SIZES}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
