"""Data-parallel training with PyTorch DDP under ``torchrun``; samplers shared by 1 and N processes.

``snnlab train CONFIG --nproc-per-node N`` re-runs itself as
``python -m torch.distributed.run --standalone --nproc-per-node N -m snnlab.cli train CONFIG``;
each process then finds ``RANK``/``WORLD_SIZE`` in its environment and joins the group
(gloo on CPU, nccl on GPU). Only rank 0 writes files.

The training sampler is the same for one process and for N: the epoch's permutation comes
from ``seed + epoch``, and rank ``r`` takes positions ``r, r + N, ...``. With a per-rank batch
of ``global / N`` the N ranks together see exactly the single process's batches.

Threads: N processes on one machine share its cores, so each gets ``cores // N`` threads for
torch (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) and for numba's kernels
(``NUMBA_NUM_THREADS``); a value the user set wins. Without that, every process would start one
thread per core in both pools and the processes would fight over the cores. A worker started by
a plain ``torchrun`` (multi-node runs) follows torch's thread count (torchrun sets
``OMP_NUM_THREADS=1`` when unset) for numba too, unless ``NUMBA_NUM_THREADS`` is set.

Errors: a bad recipe is rejected before torchrun starts; a user error inside the workers (a
missing data file, say) reaches the terminal as their one ``error:`` line, without torchrun's
report of the failed child, and ``launch`` returns 2.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Mapping, NoReturn, Optional

import torch
import torch.distributed as dist

from snnlab.errors import ConfigError


@dataclass
class DistContext:
    """Who this process is in the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistContext:
    """Join the process group when launched by torchrun; a no-op context otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    ctx = DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if os.environ.get("SNNLAB_PIN_CORES") == "1":
        pin_cores(ctx.local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    if device_type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    match_numba_threads()
    return ctx


def pin_cores(local_rank: int, local_world: int) -> list[int]:
    """Bind this process (and the threads it starts from now on) to its own ``cores // local_world``
    cores; returns them, or ``[]`` when it leaves the affinity alone (fewer cores than processes, or
    more threads per process, ``OMP_NUM_THREADS``, than its share). Called before the process group
    starts, so gloo's threads inherit it."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return []
    k = len(cores) // max(1, local_world)
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if k < 1 or not 0 <= local_rank < local_world or (threads.isdigit() and int(threads) > k):
        return []
    mine = cores[local_rank * k : (local_rank + 1) * k]
    os.sched_setaffinity(0, mine)
    return mine


def match_numba_threads() -> None:
    """Give numba's kernels as many threads as torch has, unless ``NUMBA_NUM_THREADS`` is set."""
    if "NUMBA_NUM_THREADS" in os.environ:
        return
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a core dependency
        return
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def shutdown(ctx: DistContext, sync: bool = True) -> None:
    """Leave the process group.

    With ``sync`` every rank first waits for the others (a barrier), so no rank tears its
    communication threads down while a peer still talks to it. After an error the barrier is
    skipped: the failed peer would never reach it.
    """
    if ctx.enabled and dist.is_initialized():
        if sync:
            dist.barrier()
        dist.destroy_process_group()


def worker_exit(code: int) -> NoReturn:
    """End a torchrun worker once its work is done and its files are closed: flush the output and
    leave with ``os._exit``, skipping the interpreter's and the C++ libraries' teardown.

    That teardown races: about one run in three on 2 cores, with each worker bound to its own
    core, a worker aborted after its last line ("terminate called without an active exception",
    a thread object destroyed while it still ran) and torchrun reported the run as failed.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing left to keep
            pass
    logging.shutdown()
    os._exit(code)


def all_reduce_sum(t: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a (CPU) tensor over ranks; identity in a single process."""
    if not ctx.enabled:
        return t
    dev = torch.device("cuda", ctx.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
    out = t.to(dev)
    dist.all_reduce(out)
    return out.cpu()


class EpochSampler(torch.utils.data.Sampler[int]):
    """Shuffled (per ``seed + epoch``) or ordered indices, split across ranks.

    Training (``even=True``) drops the last ``n % world`` samples of the permutation so that
    every rank takes the same number of steps; evaluation keeps every sample once.
    """

    def __init__(self, n: int, shuffle: bool, seed: int, ctx: DistContext, even: bool) -> None:
        self.n, self.shuffle, self.seed, self.ctx, self.even = n, shuffle, seed, ctx, even
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[int]:
        order = self._order()
        if self.even:
            order = order[: len(order) - len(order) % self.ctx.world_size]
        return iter(order[self.ctx.rank :: self.ctx.world_size])

    def __len__(self) -> int:
        usable = self.n - self.n % self.ctx.world_size if self.even else self.n
        return len(range(self.ctx.rank, usable, self.ctx.world_size))


def per_rank_batch(global_batch: int, ctx: DistContext) -> int:
    """``global_batch / world_size``; raises ConfigError when it does not divide."""
    if global_batch % ctx.world_size:
        raise ConfigError(
            f"data.batch_size={global_batch} must be divisible by the {ctx.world_size} processes "
            "(it is the global batch)"
        )
    return global_batch // ctx.world_size


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_env(nproc: int, environ: Mapping[str, str], cores: Optional[int] = None) -> dict[str, str]:
    """The environment of ``nproc`` local workers: ``cores // nproc`` threads each for torch and numba.

    A thread variable the user set is kept; when only ``OMP_NUM_THREADS`` is set, the others follow it.
    ``SNNLAB_PIN_CORES=1`` (unless set) binds each worker to its share of the cores (:func:`pin_cores`):
    about 2 % more samples/s for 2 processes on 2 cores, -2 to +8 % per round (benchmarks/README.md, data-parallel).
    """
    env = dict(environ)
    n = env.get("OMP_NUM_THREADS") or str(max(1, (cores or available_cores()) // nproc))
    for var in THREAD_VARS:
        env.setdefault(var, n)
    env.setdefault("SNNLAB_PIN_CORES", "1")  # each worker on its own cores (SNNLAB_PIN_CORES=0: off)
    return env


# torchrun's own log lines (glog style: "E1203 16:40:00.123 ...") and the report of a failed child
_TORCHRUN_LOG = re.compile(r"^[EWI]\d{4} \d\d:\d\d:\d\d")
_CHILD_FAILED = "ChildFailedError"


class _StderrFilter:
    """Pass the workers' stderr through; drop torchrun's log lines, its traceback and failure report.

    A worker's user error (``error: ...``) appears once even when every rank prints it.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out, self.seen_errors, self.held, self.report = out, set(), [], False

    def feed(self, line: str) -> None:
        if self.report or _TORCHRUN_LOG.match(line):
            return
        if self.held or line.startswith("Traceback (most recent call last)"):
            self._hold(line)
        elif line.startswith("error: "):
            if line not in self.seen_errors:
                self.seen_errors.add(line)
                self.out.write(line)
        else:
            self.out.write(line)
        self.out.flush()

    def _hold(self, line: str) -> None:
        """Keep a traceback until its last line says whose it is: torchrun's is dropped with what follows."""
        self.held.append(line)
        if line[:1].isspace() or line.startswith("Traceback") or not line.strip():
            return
        if _CHILD_FAILED in line:
            self.report = True
        else:  # a worker's own traceback (a bug, or --debug): show it
            self.out.writelines(self.held)
        self.held = []

    def close(self) -> None:
        if not self.report:
            self.out.writelines(self.held)
        self.out.flush()


def _pump(stream: IO[str], sink: _StderrFilter) -> None:
    for line in stream:
        sink.feed(line)
    sink.close()


def launch(nproc: int, argv: Sequence[str], debug: bool = False) -> int:
    """Re-run ``snnlab`` with ``argv`` under torchrun on ``nproc`` local processes; returns the exit code.

    Each worker gets ``cores // nproc`` threads (see :func:`worker_env`). Unless ``debug``,
    torchrun's logs and its traceback of a failed child are filtered out of stderr and a user
    error in the workers (their ``error:`` line) makes the exit code 2.
    """
    if nproc < 1:
        raise ConfigError(f"--nproc-per-node must be >= 1, got {nproc}")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "snnlab.cli",
        *argv,
    ]
    env = worker_env(nproc, os.environ)
    if debug:
        return subprocess.call(cmd + ["--debug"], env=env)
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
    sink = _StderrFilter(sys.stderr)
    pump = threading.Thread(target=_pump, args=(proc.stderr, sink), daemon=True)
    pump.start()
    code = proc.wait()
    pump.join()
    if code != 0 and sink.seen_errors:
        return 2
    return code
