"""Time multi-step LIF forward+backward: snnlab (numba, torch) against spikingjelly, norse, snnTorch.

Cases (performance.md section 1.5, on CPU):

- ``lif``: a LIF layer alone on a precomputed current ``x = randn(T, B, N)`` (requires grad);
- ``linear_lif``: ``Linear(N, N)`` followed by LIF (the Open Neuromorphic setup).

Method (as users run each framework): every framework runs in its own fresh subprocess, so
one library's import-time settings and thread pools cannot touch another's. In it the module
is made once, warmed up once, then timed over ``--reps`` (default 7) steps, each on a fresh
input ``randn(T, B, N)`` (made outside the timed window): ``out = model(x); out.sum().backward()``,
median, forward and backward timed apart. Peers run with the process environment as given;
snnlab's processes get ``OMP_WAIT_POLICY=PASSIVE`` (what ``import snnlab`` sets anyway). snnlab's
numba kernels take their large outputs from a reusable buffer pool (``snnlab.kernels.pool``);
``snnlab-numba-nopool`` is the same kernel with the pool off.

Peak memory is measured in a second fresh subprocess per framework, on one call after a warm-up
and after the pool is emptied: the peak resident-set growth over the call (RSS sampled every
0.5 ms from a thread). In that process only, glibc is made to map (and unmap on free) every block
of 64 KiB or more, so RSS tracks live tensor memory. That setting is never on while timing: it makes every
large tensor a fresh mapping that the OS zero-fills on first touch, which slowed spikingjelly
3-6x in earlier versions of this script. Memory bandwidth is measured in the parent around every
case, giving the floor of a fused LIF (24 bytes per neuron-step forward+backward in float32,
performance.md section 4.1). Usage::

    python benchmarks/bench_neurons.py --quick     # ~1-2 minutes
    python benchmarks/bench_neurons.py             # full grid: long (tens of minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional


def _mmap_large_blocks() -> None:
    """Make glibc map every block >= 64 KiB (and unmap it on free), so RSS tracks live tensors."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD, fixed
    except OSError:
        pass


import torch  # noqa: E402

FLOOR_BYTES = 24  # per neuron-step, fused LIF fwd+bwd in float32
RESULTS = Path(__file__).resolve().parent / "results"


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Context manager sampling the RSS growth over a block from a thread."""

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.0005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def bandwidth_gbs(nbytes: int = 256 * 2**20) -> float:
    """Copy bandwidth (read + write) of this machine, GB/s, median of 7."""
    src = torch.randn(nbytes // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t0)
    return 2 * nbytes / statistics.median(times) / 1e9


# ------------------------------------------------------------------ models (time-major (T, B, N))
def _snnlab(backend: str) -> Callable[[int], torch.nn.Module]:
    def make(n: int) -> torch.nn.Module:
        import snnlab

        return snnlab.nn.LIF(tau=5.0, surrogate=snnlab.surrogate.ATan(2.0), backend=backend)

    return make


def _spikingjelly(n: int) -> torch.nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    return neuron.LIFNode(tau=5.0, surrogate_function=surrogate.ATan(), step_mode="m")  # torch backend


class _Stateless(torch.nn.Module):
    """Runs a peer's neuron over time from a fresh state on every call."""

    def __init__(self, run: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.run = run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def _norse(n: int) -> torch.nn.Module:
    import norse.torch as nt

    lif = nt.LIF(nt.LIFParameters(tau_mem_inv=torch.tensor(200.0), v_th=torch.tensor(1.0)))
    return _Stateless(lambda x: lif(x)[0])


def _snntorch(n: int) -> torch.nn.Module:
    import snntorch

    leaky = snntorch.Leaky(beta=0.8)

    def run(x: torch.Tensor) -> torch.Tensor:
        mem = leaky.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk, mem = leaky(x[t], mem)
            out.append(spk)
        return torch.stack(out)

    model = _Stateless(run)
    model.leaky = leaky  # a submodule, so ``.to(device)`` moves its buffers (bench_gpu.py)
    return model


FRAMEWORKS: dict[str, Callable[[int], torch.nn.Module]] = {
    "snnlab-numba": _snnlab("numba"),
    "snnlab-numba-nopool": _snnlab("numba"),
    "snnlab-torch": _snnlab("torch"),
    "spikingjelly-torch": _spikingjelly,
    "norse": _norse,
    "snntorch": _snntorch,
}
NO_POOL = {"snnlab-numba-nopool"}  # snnlab's CPU buffer pool off (fresh torch allocations, as the peers)


class _PoolLimit:
    """Sets snnlab's CPU buffer-pool limit for a block (0: off) and empties the pool around it."""

    def __init__(self, limit: Optional[int]) -> None:
        self.limit = limit

    def __enter__(self) -> None:
        from snnlab.kernels import pool

        self.saved = pool.POOL.limit
        pool.clear()
        if self.limit is not None:
            pool.POOL.limit = self.limit

    def __exit__(self, *exc) -> None:
        from snnlab.kernels import pool

        pool.POOL.limit = self.saved
        pool.clear()


def _clear_pool() -> None:
    """Empty snnlab's buffer pool (if loaded), so a memory measurement sees every buffer a call needs."""
    import gc
    import sys

    gc.collect()
    if "snnlab.kernels.pool" in sys.modules:
        sys.modules["snnlab.kernels.pool"].clear()


def _reset(model: torch.nn.Module) -> None:
    for m in model.modules():
        if callable(getattr(m, "reset", None)):
            m.reset()


def _call(model: torch.nn.Module, shape: tuple[int, int, int]) -> tuple[float, float]:
    x = torch.randn(shape).requires_grad_()  # a fresh input each step, as in training
    _reset(model)
    t0 = time.perf_counter()
    out = model(x)
    t1 = time.perf_counter()
    out.sum().backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def time_case(model: torch.nn.Module, shape: tuple[int, int, int], reps: int) -> dict:
    """Median forward and backward seconds of ``model`` on fresh inputs of ``shape`` (one warm-up first)."""
    fwd, bwd = [], []
    _call(model, shape)  # warm-up (compilation, caches)
    for _ in range(reps):
        f, b = _call(model, shape)
        fwd.append(f)
        bwd.append(b)
    return {
        "fwd_s": statistics.median(fwd),
        "bwd_s": statistics.median(bwd),
        "total_s": statistics.median(f + b for f, b in zip(fwd, bwd)),
    }


def memory_case(model: torch.nn.Module, shape: tuple[int, int, int]) -> dict:
    """Peak RSS growth (MB) of one call after a warm-up and an emptied pool (large blocks mapped)."""
    _call(model, shape)
    _clear_pool()
    with PeakRSS() as peak:
        _call(model, shape)
    return {"peak_mb": peak.mb}


def worker(name: str, case: str, T: int, B: int, N: int, reps: int) -> dict:
    """Time one framework on one case (run in its own subprocess); ``reps == 0``: memory only."""
    if reps == 0:
        _mmap_large_blocks()  # before any allocation, for the memory process only (see the docstring)
    torch.manual_seed(0)
    neuron = FRAMEWORKS[name](N)
    model = torch.nn.Sequential(torch.nn.Linear(N, N), neuron) if case == "linear_lif" else neuron
    with _PoolLimit(0 if name in NO_POOL else None) if name.startswith("snnlab") else _Null():
        return time_case(model, (T, B, N), reps) if reps else memory_case(model, (T, B, N))


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


def run_isolated(name: str, case: str, T: int, B: int, N: int, reps: int) -> dict:
    """Run :func:`worker` in a fresh Python process; snnlab's get passive OpenMP waiting (as ``import snnlab`` sets)."""
    env = dict(os.environ)
    if name.startswith("snnlab"):
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cmd = [sys.executable, __file__, "--worker", json.dumps([name, case, T, B, N, reps])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1])


def run_grid(cases: list[tuple], frameworks: list[str], reps: int) -> list[dict]:
    rows = []
    for case, T, B, N in cases:
        case_bw = bandwidth_gbs()  # re-measured per case: the bandwidth of a VM drifts over a run
        for name in frameworks:
            res = run_isolated(name, case, T, B, N, reps)  # a peer that cannot run a size reports an error
            if "error" not in res:
                res.update(run_isolated(name, case, T, B, N, 0))  # memory, in another fresh process
            rows.append({"case": case, "T": T, "B": B, "N": N, "framework": name, **res})
        # the floor of the case at the higher of the bandwidths measured just before and just after it
        case_bw = max(case_bw, bandwidth_gbs())
        for row in rows[-len(frameworks) :]:
            row["bandwidth_gbs"] = case_bw
            row["floor_s"] = FLOOR_BYTES * T * B * N / (case_bw * 1e9)
            print(_fmt(row, rows), flush=True)
    return rows


def _fmt(row: dict, rows: list[dict]) -> str:
    head = f"{row['case']:<11} T={row['T']:<4} B={row['B']:<3} N={row['N']:<6} {row['framework']:<19}"
    if "error" in row:
        return f"{head} error: {row['error']}"
    ref = _numba_row(row, rows)
    vs = f"{row['total_s'] / ref['total_s']:7.1f}x" if ref else "       -"
    return (
        f"{head} fwd {row['fwd_s'] * 1e3:8.1f} ms  bwd {row['bwd_s'] * 1e3:8.1f} ms  total "
        f"{row['total_s'] * 1e3:8.1f} ms  peak {row['peak_mb']:7.0f} MB  vs numba {vs}  "
        f"vs floor {row['total_s'] / row['floor_s']:6.1f}x"
    )


def _numba_row(row: dict, rows: list[dict]) -> Optional[dict]:
    for r in rows:
        if (
            r["framework"] == "snnlab-numba"
            and "error" not in r
            and all(r[k] == row[k] for k in ("case", "T", "B", "N"))
        ):
            return r
    return None


def grid(quick: bool) -> list[tuple]:
    if quick:
        return [("lif", 100, 32, 4096), ("lif", 500, 16, 1024), ("linear_lif", 100, 16, 1024)]
    sizes = [(T, B, N) for T in (100, 500) for B in (16, 32) for N in (1024, 4096, 16384)]
    return [("lif", *s) for s in sizes] + [("linear_lif", *s) for s in sizes if s[2] <= 4096]


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (~1-2 minutes)")
    ap.add_argument("--reps", type=int, default=7, help="timed steps per case (after one warm-up), median")
    ap.add_argument(
        "--case",
        action="append",
        default=None,
        help="case as KIND:T:B:N (e.g. lif:100:32:4096), repeatable; overrides --quick",
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated subset")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default benchmarks/results/neurons-<date>.json)")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))), flush=True)
        return
    frameworks = [f for f in args.frameworks.split(",") if f]
    unknown = sorted(set(frameworks) - set(FRAMEWORKS))
    if unknown:
        ap.error(f"unknown frameworks {unknown}; valid: {sorted(FRAMEWORKS)}")
    bw = bandwidth_gbs()
    print(f"copy bandwidth {bw:.1f} GB/s; torch threads {torch.get_num_threads()}; floor = {FLOOR_BYTES} B/neuron-step")
    cases = [(c.split(":")[0], *map(int, c.split(":")[1:])) for c in args.case] if args.case else grid(args.quick)
    rows = run_grid(cases, frameworks, args.reps)
    stamp = datetime.date.today().isoformat()
    out = args.out or RESULTS / f"neurons-{stamp}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": stamp,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "bandwidth_gbs": bw,
        "floor_bytes_per_neuron_step": FLOOR_BYTES,
        "memory": "peak RSS growth over a call",
        "method": "one subprocess per framework, fresh input per step, median of reps after a warm-up",
        "cuda": "not measured (no GPU)" if not torch.cuda.is_available() else "see rows",
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
