"""Data-parallel training with PyTorch DDP under ``torchrun``; samplers shared by 1 and N processes.

``snnlab train CONFIG --nproc-per-node N`` re-runs itself as
``python -m torch.distributed.run --standalone --nproc-per-node N -m snnlab.cli train CONFIG``;
each process then finds ``RANK``/``WORLD_SIZE`` in its environment and joins the group
(gloo on CPU, nccl on GPU). Only rank 0 writes files.

The training sampler is the same for one process and for N: the epoch's permutation comes
from ``seed + epoch``, and rank ``r`` takes positions ``r, r + N, ...``. With a per-rank batch
of ``global / N`` the N ranks together see exactly the single process's batches.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    if device_type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    return ctx


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


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Re-run ``snnlab`` with ``argv`` under torchrun on ``nproc`` local processes; returns the exit code."""
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
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.call(cmd, env=env)
