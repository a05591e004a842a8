"""Training throughput with 1 and N data-parallel processes on one machine (``--nproc-per-node``).

The workload is a compute-bound recipe as users run it: ``experiments/shd_lif.yaml`` (the SHD
LIF MLP; ``data.options.n_bins=1`` gives 700 -> 256 -> 256 -> 20 inputs as issue 19 states it,
T = 100 steps of 10 ms, global batch 256) on fixture-sized SHD files written here in the
published HDF5 layout (``--samples`` training samples of 1 s, about 5 % of the (step, channel)
bins hold a spike). Each run is a fresh ``snnlab train`` process (under torchrun for N > 1);
samples/s is the trainer's own figure (``metrics.csv``: training samples over the epoch's
training time) of the epochs after the first (the first compiles numba kernels and warms caches),
median over epochs and rounds. Sides alternate within each round.

Variants:

- ``1 process``: plain ``snnlab train``, threads as the user's environment gives them;
- ``N processes``: ``--nproc-per-node N``; ``launch`` gives each ``cores // N`` threads and binds it to
  its own ``cores // N`` cores;
- ``N processes, old threads``: torch 1 thread, numba one per core in each process (what
  ``launch`` did before issue 19);
- ``nopin``: as ``N`` with the binding off (``SNNLAB_PIN_CORES=0``, what ``launch`` did before 2026-12-04);
- ``indep``: N independent ``snnlab train`` processes started together, each with ``cores // N``
  threads and the per-process batch of the data-parallel run (global batch / N), no communication:
  their summed samples/s is the ceiling of the data-parallel run on this machine (``N`` / ``indep`` is
  the data-parallel efficiency, ``indep`` / ``1`` the most that N processes can gain here).

Thread variables of the calling environment (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
``NUMBA_NUM_THREADS``) are removed for the children unless ``--keep-thread-env``, so the library's
defaults are what is measured. Usage::

    python benchmarks/bench_ddp.py                       # SHD MLP, 1 vs 2 processes, 2 rounds
    python benchmarks/bench_ddp.py --recipe demo         # the demo recipe (tiny: DDP overhead shows)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
VARIANTS = ("1", "N", "nopin", "old", "indep")


def write_shd(folder: Path, n_train: int, n_test: int, density: float = 0.05, seed: int = 0) -> Path:
    """``shd_train.h5`` / ``shd_test.h5`` with 1 s samples, ``density`` of 700 x 100 bins spiking."""
    import h5py

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    k = int(density * 700 * 100)
    for split, n in (("train", n_train), ("test", n_test)):
        with h5py.File(folder / f"shd_{split}.h5", "w") as f:
            times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
            units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i in range(n):
                t = np.sort(rng.uniform(0, 0.995, k)).astype(np.float16)
                t[-1] = np.float16(0.995)  # every sample lasts 100 steps of 10 ms
                times[i], units[i] = t, rng.integers(0, 700, k).astype(np.uint16)
            f.create_dataset("labels", data=(np.arange(n) % 20).astype(np.uint16))
            f.create_dataset("extra/speaker", data=(np.arange(n) % 10).astype(np.uint16))
            f.create_dataset("extra/keys", data=[f"class-{c}".encode() for c in range(20)])
            for name, value in (("gender", b"male"), ("age", 40), ("body_height", 180)):
                data = [value] * 10 if isinstance(value, bytes) else np.full(10, value, np.uint16)
                f.create_dataset(f"extra/meta_info/{name}", data=data)
    return folder


def recipe_args(recipe: str, data_root: Path, epochs: int) -> list[str]:
    """``snnlab train`` arguments of the timed recipe."""
    common = ["--set", f"train.epochs={epochs}", "--set", "run.progress=false"]
    if recipe == "demo":
        return [str(ROOT / "experiments" / "demo_digits.yaml"), *common]
    return [
        str(ROOT / "experiments" / "shd_lif.yaml"),
        *common,
        "--set",
        f"data.root={data_root}",
        "--set",
        "data.options.n_bins=1",
        "--set",
        f"data.options.cache_dir={data_root / 'cache'}",
        "--set",
        "data.options.in_memory=true",  # frames in memory at any --samples: the steps, not the reads, are timed
    ]


def child_env(variant: str, nproc: int, keep: bool) -> dict[str, str]:
    """Environment of one run: the caller's, thread variables dropped unless ``keep``."""
    env = {k: v for k, v in os.environ.items() if keep or k not in THREAD_VARS}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if variant == "nopin":
        env["SNNLAB_PIN_CORES"] = "0"
    if variant == "old":
        cores = len(os.sched_getaffinity(0))
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS=str(cores))
    return env


def run_once(args: list[str], nproc: int, variant: str, out: Path, keep: bool) -> dict:
    """One fresh training run; samples/s of every epoch after the first."""
    cmd = [sys.executable, "-m", "snnlab.cli", "train", *args, "--out", str(out), "--force"]
    if nproc > 1:
        cmd += ["--nproc-per-node", str(nproc)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=child_env(variant, nproc, keep), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    rates = [float(r["samples_per_s"]) for r in rows[1:]]
    return {"samples_per_s": rates, "wall_s": wall}


def global_batch(recipe: str) -> int:
    """``data.batch_size`` of the timed recipe file."""
    import yaml

    name = "demo_digits.yaml" if recipe == "demo" else "shd_lif.yaml"
    return int(yaml.safe_load((ROOT / "experiments" / name).read_text())["data"]["batch_size"])


def run_independent(args: list[str], nproc: int, batch: int, out: Path, keep: bool) -> dict:
    """``nproc`` independent single-process runs at once (batch ``batch // nproc``, ``cores // nproc`` threads
    each); samples/s summed epoch by epoch."""
    threads = str(max(1, len(os.sched_getaffinity(0)) // nproc))
    env = child_env("1", 1, keep)
    if not keep:
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, NUMBA_NUM_THREADS=threads)
    outs = [out / f"proc{i}" for i in range(nproc)]
    base = [sys.executable, "-m", "snnlab.cli", "train", *args, "--set", f"data.batch_size={batch // nproc}"]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*base, "--out", str(o), "--force"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for o in outs
    ]
    errors = [p.communicate()[1].decode(errors="replace").strip() for p in procs]
    wall = time.perf_counter() - t0
    if any(p.returncode for p in procs):
        return {"error": next(e.splitlines()[-1][:300] for e, p in zip(errors, procs) if p.returncode)}
    rates = []
    for o in outs:
        with open(o / "metrics.csv") as f:
            rates.append([float(r["samples_per_s"]) for r in list(csv.DictReader(f))[1:]])
    return {"samples_per_s": [sum(epoch) for epoch in zip(*rates)], "per_process": rates, "wall_s": wall}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", choices=("shd", "demo"), default="shd")
    ap.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel side")
    ap.add_argument("--samples", type=int, default=2048, help="SHD training samples (fixture-sized)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not counted)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of every variant")
    ap.add_argument("--variants", default="1,N,old", help="comma-separated subset of 1, N, nopin, old, indep")
    ap.add_argument("--keep-thread-env", action="store_true", help="pass the caller's thread variables on")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default benchmarks/results/ddp-<date>.json)")
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"--variants: unknown {v!r}; valid: {', '.join(VARIANTS)}")
    runs: dict[str, list[float]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_shd(Path(tmp) / "shd", args.samples, 256) if args.recipe == "shd" else Path(tmp)
        train_args = recipe_args(args.recipe, data, args.epochs)
        batch = global_batch(args.recipe)
        print(f"cores {len(os.sched_getaffinity(0))}; recipe {args.recipe}; load {load_average()}", flush=True)
        for r in range(args.rounds):
            for v in variants:
                nproc = 1 if v == "1" else args.nproc
                folder = Path(tmp) / f"run-{v}-{r}"
                if v == "indep":
                    res = run_independent(train_args, nproc, batch, folder, args.keep_thread_env)
                else:
                    res = run_once(train_args, nproc, v, folder, args.keep_thread_env)
                print(f"round {r} {v:>5} ({nproc} proc): {res}  load {load_average()}", flush=True)
                runs[v] += res.get("samples_per_s", [])
    med = {v: statistics.median(x) for v, x in runs.items() if x}
    for v, m in med.items():
        ratio = f"  {m / med['1']:.2f}x one process" if "1" in med else ""
        print(f"{v:>5}: {m:8.1f} samples/s{ratio}")
    if "N" in med and "indep" in med:
        print(f"data-parallel efficiency N / indep: {med['N'] / med['indep']:.0%}")
    out = args.out or RESULTS / f"ddp-{args.recipe}-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out.name  # no local path
    record = {"args": vars(args) | {"out": str(shown)}, "samples_per_s": runs, "median": med}
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
