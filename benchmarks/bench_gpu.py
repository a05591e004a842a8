"""snnlab's numba-cuda kernels on a GPU, against the torch reference on the same GPU and the peers.

Parts (``--parts``, default all), each timed in this one process on one GPU:

- ``lif``: a multi-step LIF layer, forward + backward of ``out.sum()``, on a fresh input
  ``randn(T, B, N)`` each step: snnlab's fused numba-cuda kernel, snnlab's torch reference (eager
  ops per time step), spikingjelly's multi-step ``LIFNode`` (on CUDA it picks its own fastest
  implementation: native CUDA if built, else Triton), norse and snnTorch. Each module is made once
  and warmed up (JIT compilation) before ``--reps`` timed steps; median wall time between two
  ``torch.cuda.synchronize()``; peak memory is ``torch.cuda.max_memory_allocated`` over one step
  above what was allocated before it. snnlab's spikes are checked equal to its torch reference.
- ``linear``: ``linear.spikes`` (spike-sparse Linear, numba-cuda) against cuBLAS's dense
  ``F.linear`` at the SHD MLP's first layer (M = T x B rows, 700 -> 256) and spike densities 1-20 %.
- ``wkv``: SpikeGPT's WKV recurrence, numba-cuda kernel against the torch reference.
- ``sim``: the event-driven simulator's cuda engine against the numba engine on the CUBA and COBA
  benchmarks (4,000 neurons, 1 biological second), the same spikes required.
- ``overhead``: the cuda LIF step over batch sizes (fixed cost against bytes), empty numba-cuda launches
  with 1 and 10 tensor arguments, and a cProfile of 20 LIF steps.
- ``maxformer``: a training step of the reduced Max-Former (``bench_maxformer.py --device cuda``), once with
  spikingjelly's own choice on CUDA (Triton) and once with its torch backend.

Usage (on a machine with a CUDA GPU, numba-cuda and a CUDA build of torch)::

    python benchmarks/bench_gpu.py [--parts lif,overhead,linear,wkv,sim,maxformer] [--reps 20] [--json out.json]

``bench_maxformer.py --device cuda`` times the Max-Former step with all three variants and their memory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
RESULTS = Path(__file__).resolve().parent / "results"
LIF_SHAPES = ((100, 32, 4096), (100, 256, 4096))
# --simulate: tiny shapes on CPU tensors under NUMBA_ENABLE_CUDASIM=1 (a check of this script without a GPU)
SIZES = {
    "gpu": {"lif": LIF_SHAPES, "linear": (100 * 256, 700, 256), "wkv": (8, 1024, 512), "sim_s": 1.0},
    "simulate": {"lif": ((6, 2, 16),), "linear": (20, 12, 5), "wkv": (2, 8, 4), "sim_s": 0.0002},
}
DEVICE = "cuda"
SIZE = SIZES["gpu"]


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _memory() -> int:
    return torch.cuda.memory_allocated() if DEVICE == "cuda" else 0


def timed(fn: Callable[[], Any], reps: int, warmup: int = 2) -> dict:
    """Median seconds of ``fn`` (synchronised) and the peak memory of one call above the memory before it."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    base = _memory()
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    fn()
    sync()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if DEVICE == "cuda" else float("nan")
    return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "peak_mb": peak}


# ------------------------------------------------------------------ lif
def _lif_models() -> dict[str, Callable[[], Callable[[torch.Tensor], torch.Tensor]]]:
    """name -> factory of ``run(x) -> spikes`` (module made once, state fresh on every call): the
    modules of bench_neurons.py moved to the device; norse's with its parameters made there."""
    import bench_neurons as bn

    def on_device(make):
        def factory():
            m = make(0).to(DEVICE)

            def run(x):
                bn._reset(m)
                return m(x)

            return run

        return factory

    def norse():
        import norse.torch as nt

        m = nt.LIF(
            nt.LIFParameters(tau_mem_inv=torch.tensor(200.0, device=DEVICE), v_th=torch.tensor(1.0, device=DEVICE))
        ).to(DEVICE)
        return lambda x: m(x)[0]

    return {
        "snnlab-cuda": on_device(bn._snnlab("cuda")),
        "snnlab-torch": on_device(bn._snnlab("torch")),
        "spikingjelly": on_device(bn._spikingjelly),
        "norse": norse,
        "snntorch": on_device(bn._snntorch),
    }


def bench_lif(reps: int) -> dict:
    rows, checks = [], []
    for shape in SIZE["lif"]:
        # snnlab's cuda kernel against its torch reference on one input: spikes equal, gradients close
        from bench_neurons import _snnlab

        x = torch.randn(shape, device=DEVICE) * 1.5 + 0.5
        outs = {}
        try:
            for backend in ("cuda", "torch"):
                m = _snnlab(backend)(0).to(DEVICE)
                xi = x.clone().requires_grad_()
                out = m(xi)
                out.sum().backward()
                outs[backend] = (out.detach(), xi.grad)
            checks.append(
                {
                    "shape": list(shape),
                    "spikes_equal": bool(torch.equal(outs["cuda"][0], outs["torch"][0])),
                    # a 1-ulp difference (fused multiply-adds on the GPU) flips a neuron sitting at threshold
                    "spikes_differing": int((outs["cuda"][0] != outs["torch"][0]).sum()),
                    "spike_rate": float(outs["cuda"][0].mean()),
                    "grad_max_abs_diff": float((outs["cuda"][1] - outs["torch"][1]).abs().max()),
                }
            )
        except Exception as err:  # under --simulate the module refuses CPU tensors for 'cuda'
            checks.append({"shape": list(shape), "error": f"{type(err).__name__}: {err}"[:300]})
        for name, make in _lif_models().items():
            try:
                run = make()

                def step():
                    xi = torch.randn(shape, device=DEVICE).requires_grad_()  # a fresh input each step
                    run(xi).sum().backward()

                r = timed(step, reps)
            except Exception as err:  # a peer that does not run here is reported, not fatal
                r = {"error": f"{type(err).__name__}: {err}"[:300]}
            rows.append({"shape": list(shape), "framework": name, **r})
            print(f"  lif {shape} {name:14s} {r}", flush=True)
    return {"rows": rows, "checks": checks}


# ------------------------------------------------------------------ linear.spikes
def bench_linear(reps: int) -> dict:
    from snnlab.kernels import dispatch

    rows = []
    M, K, N = SIZE["linear"]
    w = torch.randn(N, K, device=DEVICE, requires_grad=True)
    b = torch.randn(N, device=DEVICE, requires_grad=True)
    for density in (0.01, 0.05, 0.2):
        x = (torch.rand(M, K, device=DEVICE) < density).float()
        ref = torch.nn.functional.linear(x, w, b)
        ours = dispatch("linear.spikes", "cuda", x, w, b, 1.0)
        err = float((ours - ref).abs().max().detach())
        for name in ("snnlab-cuda", "cublas-dense"):

            def step(name=name):
                xi = x.clone().requires_grad_()
                y = (
                    dispatch("linear.spikes", "cuda", xi, w, b, 1.0)
                    if name == "snnlab-cuda"
                    else torch.nn.functional.linear(xi, w, b)
                )
                y.sum().backward()

            r = timed(step, reps)
            rows.append({"density": density, "impl": name, "max_abs_err": err, **r})
            print(f"  linear {density:.2f} {name:13s} {r}", flush=True)
    return {"rows": rows, "shape": [M, K, N]}


# ------------------------------------------------------------------ wkv
def bench_wkv(reps: int) -> dict:
    from snnlab.kernels import dispatch

    rows = []
    B, T, C = SIZE["wkv"]
    g = torch.Generator(device=DEVICE).manual_seed(0)
    w = -torch.exp(torch.randn(C, device=DEVICE, generator=g))
    u = torch.randn(C, device=DEVICE, generator=g)
    k, v = (torch.randn(B, T, C, device=DEVICE, generator=g) for _ in range(2))
    res = {}
    for backend in ("cuda", "torch"):
        args = [t.clone().requires_grad_() for t in (w, u, k, v)]
        y = dispatch("wkv", backend, *args)
        y.sum().backward()
        res[backend] = [y.detach(), *(a.grad for a in args)]

        def step(backend=backend):
            args = [t.clone().requires_grad_() for t in (w, u, k, v)]
            dispatch("wkv", backend, *args).sum().backward()

        r = timed(step, reps if backend == "cuda" else min(reps, 3), warmup=1 if backend == "torch" else 2)
        rows.append({"impl": f"snnlab-{backend}", **r})
        print(f"  wkv {backend:6s} {r}", flush=True)
    rel = [float((a - b).abs().max() / b.abs().max().clamp_min(1e-30)) for a, b in zip(res["cuda"], res["torch"])]
    return {"rows": rows, "shape": [B, T, C], "max_rel_diff_y_dw_du_dk_dv": rel}


# ------------------------------------------------------------------ event-driven simulator
def bench_sim(reps: int) -> dict:
    from snnlab.sim import vogels_abbott_coba, vogels_abbott_cuba

    rows = []
    for model, build in (("cuba", vogels_abbott_cuba), ("coba", vogels_abbott_coba)):
        net = build()
        steps = int(round(SIZE["sim_s"] / net.dt))
        spikes = {}
        for backend in ("numba", "cuda"):
            sim = net.simulator(backend=backend, dtype=np.float32)
            t0 = time.perf_counter()
            sim.run([], steps=10)  # compile
            compile_s = time.perf_counter() - t0
            times = []
            for _ in range(max(3, reps // 4)):
                t0 = time.perf_counter()
                res = sim.run([], steps=steps)
                times.append(time.perf_counter() - t0)
            spikes[backend] = sum(res.counts["spikes"].values())
            r = {"model": model, "engine": backend, "median_s": statistics.median(times), "compile_s": compile_s}
            r["spikes"] = spikes[backend]
            rows.append(r)
            print(f"  sim {model} {backend:6s} {r}", flush=True)
    return {"rows": rows}


# ------------------------------------------------------------------ launch overhead
def bench_overhead(reps: int) -> dict:
    """Where the cuda LIF step's time goes when it does not grow with the batch.

    - the LIF step at B = 1..256 (T 100, N 4096): a fixed cost plus bytes;
    - one numba-cuda launch of an empty kernel with 1 and 10 array arguments (torch tensors);
    - a cProfile of 20 LIF steps at B 32 (the 25 most expensive functions by cumulative time).
    """
    import cProfile
    import io
    import pstats

    from bench_neurons import _snnlab
    from numba import cuda

    T, N = SIZE["lif"][0][0], SIZE["lif"][0][2]
    batches = (1, 8, 32, 256) if DEVICE == "cuda" else (1, 2)
    m = _snnlab("cuda")(0).to(DEVICE)

    def lif_step(B):
        def step():
            x = torch.randn(T, B, N, device=DEVICE).requires_grad_()
            m.reset()
            m(x).sum().backward()

        return step

    rows = []
    for B in batches:
        try:
            r = timed(lif_step(B), reps)
        except Exception as err:  # under --simulate the module refuses CPU tensors
            r = {"error": f"{type(err).__name__}: {err}"[:300]}
        rows.append({"what": f"lif T{T} B{B} N{N}", "bytes": 24 * T * B * N, **r})
        print(f"  overhead {rows[-1]}", flush=True)

    @cuda.jit
    def empty1(a):
        pass

    @cuda.jit
    def empty10(a, b, c, d, e, f, g, h, i, j):
        pass

    ts = [torch.zeros(1024, device=DEVICE) for _ in range(10)]

    def arr(t):
        return cuda.as_cuda_array(t, sync=False) if t.is_cuda else t.numpy()

    for name, fn in (
        ("empty kernel, 1 tensor argument", lambda: empty1[4, 256](arr(ts[0]))),
        ("empty kernel, 10 tensor arguments", lambda: empty10[4, 256](*map(arr, ts))),
    ):
        r = timed(fn, reps * 5)
        rows.append({"what": name, **r})
        print(f"  overhead {rows[-1]}", flush=True)
    profile = ""
    if DEVICE == "cuda":
        step = lif_step(32)
        step()
        sync()
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(20):
            step()
        sync()
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(25)
        profile = buf.getvalue()[-6000:]
    return {"rows": rows, "profile_20_steps_b32": profile}


def bench_maxformer_step(reps: int) -> dict:
    """A training step of the reduced Max-Former: ``bench_maxformer.py --device cuda`` (snnlab and the
    spikingjelly twin in both layouts, with peak memory) twice, each in its own process: spikingjelly
    as it picks on CUDA (Triton), and with its torch backend (``SJ_LIF_CUDA_IMPLEMENTATION=torch``,
    the peer issue 13 names; spikingjelly reads the variable when it is imported)."""
    import subprocess
    import tempfile

    if DEVICE != "cuda":
        return {"skipped": "GPU only"}
    out = {}
    script = Path(__file__).with_name("bench_maxformer.py")
    for name, env in (
        ("spikingjelly auto (Triton)", {}),
        ("spikingjelly torch backend", {"SJ_LIF_CUDA_IMPLEMENTATION": "torch"}),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            js = Path(tmp) / "mf.json"
            cmd = [sys.executable, str(script), "--device", "cuda", "--steps", str(max(6, reps // 2)), "--warmup", "2"]
            proc = subprocess.run(
                [*cmd, "--json", str(js)], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
            )
            out[name] = json.loads(js.read_text())["rows"] if js.exists() else {"error": proc.stderr[-1500:]}
        for row in out[name] if isinstance(out[name], list) else []:
            print(
                f"  maxformer [{name}] {row['variant']}: {1e3 * row['median_s']:.1f} ms, {row['peak_mb']:.0f} MB",
                flush=True,
            )
    return out


PARTS = {
    "lif": bench_lif,
    "overhead": bench_overhead,
    "linear": bench_linear,
    "wkv": bench_wkv,
    "sim": bench_sim,
    "maxformer": bench_maxformer_step,
}


def ratios(out: dict) -> list[str]:
    """One line per comparison: how many times faster snnlab's cuda path is than each other row."""
    lines = []
    lif = out.get("lif", {}).get("rows", [])
    for shape in {tuple(r["shape"]) for r in lif}:
        rows = {r["framework"]: r for r in lif if tuple(r["shape"]) == shape and "median_ms" in r}
        if "snnlab-cuda" in rows:
            ours = rows["snnlab-cuda"]["median_ms"]
            for name, r in rows.items():
                if name != "snnlab-cuda":
                    lines.append(f"lif {shape}: {r['median_ms'] / ours:.2f}x vs {name}")
    for r in out.get("wkv", {}).get("rows", []):
        if r["impl"] == "snnlab-torch":
            ours = next(x["median_ms"] for x in out["wkv"]["rows"] if x["impl"] == "snnlab-cuda")
            lines.append(f"wkv: {r['median_ms'] / ours:.2f}x vs torch reference")
    return lines


def _commit() -> str:
    import subprocess

    try:
        cmd = ["git", "rev-parse", "--short", "HEAD"]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=RESULTS.parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--reps", type=int, default=20, help="timed steps per case (median)")
    ap.add_argument("--json", type=Path, default=None, help="JSON file (default results/gpu-<date>.json)")
    ap.add_argument("--simulate", action="store_true", help="tiny shapes, CPU tensors, NUMBA_ENABLE_CUDASIM=1 (no GPU)")
    args = ap.parse_args(argv)
    global DEVICE, SIZE
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"--parts: unknown {unknown}; valid: {', '.join(PARTS)}")
    if args.simulate:
        if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
            ap.error("--simulate needs NUMBA_ENABLE_CUDASIM=1 in the environment")
        DEVICE, SIZE = "cpu", SIZES["simulate"]
    elif not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU visible to torch; run it on a machine with one (or --simulate)", file=sys.stderr)
        raise SystemExit(2)
    import numba
    import numba.cuda

    out: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gpu": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "none (CUDA simulator)",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "reps": args.reps,
        "commit": _commit(),
    }
    for part in parts:
        print(f"[{part}]", flush=True)
        try:
            out[part] = PARTS[part](args.reps)
        except Exception:
            out[part] = {"error": traceback.format_exc()[-2000:]}
            print(out[part]["error"], flush=True)
    out["ratios"] = ratios(out)
    print("\n".join(out["ratios"]))
    path = args.json or RESULTS / f"gpu-{datetime.date.today().isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
