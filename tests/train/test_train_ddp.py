"""DDP: two CPU processes (gloo) under torchrun reach the single-process result, because the
global batch is split evenly and the gradients average to the single process's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from snnlab.cli import main
from snnlab.train import Trainer, load_checkpoint
from snnlab.train.config import load_config
from snnlab.train.distributed import DistContext, EpochSampler

from .conftest import write_recipe

DDP_RECIPE = {"data": {"batch_size": 16, "limit_train": 64}, "model": {"hidden": [24], "dropout": 0.0}}


def test_ranks_together_cover_the_single_process_batches() -> None:
    single = list(EpochSampler(10, True, seed=3, ctx=DistContext(), even=True))
    ranks = [list(EpochSampler(10, True, seed=3, ctx=DistContext(r, 2), even=True)) for r in range(2)]
    assert [single[i] for i in range(0, 10, 2)] == ranks[0] and [single[i] for i in range(1, 10, 2)] == ranks[1]
    evals = [list(EpochSampler(7, False, 0, DistContext(r, 2), even=False)) for r in range(2)]
    assert sorted(evals[0] + evals[1]) == list(range(7))


@pytest.mark.timeout(300)
def test_two_process_gloo_matches_single_process(tmp_path: Path) -> None:
    single = write_recipe(tmp_path, {**DDP_RECIPE, "run": {"name": "single"}}, "single.yaml")
    Trainer(load_config(single)).fit()
    ddp = write_recipe(tmp_path, {**DDP_RECIPE, "run": {"name": "ddp"}}, "ddp.yaml")
    assert main(["train", str(ddp), "--nproc-per-node", "2"]) == 0
    a = load_checkpoint(tmp_path / "runs" / "single" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "runs" / "ddp" / "checkpoints" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-5, rtol=1e-4), key
    for ra, rb in zip(a["history"], b["history"], strict=True):
        assert abs(ra["train_loss"] - rb["train_loss"]) < 1e-4
        assert abs(ra["test_acc"] - rb["test_acc"]) < 1e-9
    assert not list((tmp_path / "runs" / "ddp").glob("*/.tmp-*"))


def test_worker_env_splits_the_cores_and_keeps_the_users_threads() -> None:
    from snnlab.train.distributed import worker_env

    env = worker_env(2, {"PATH": "x"}, cores=8)
    assert [env[v] for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")] == ["4", "4", "4"]
    assert worker_env(4, {}, cores=2)["NUMBA_NUM_THREADS"] == "1"  # never 0
    mine = worker_env(2, {"OMP_NUM_THREADS": "3", "NUMBA_NUM_THREADS": "2"}, cores=8)
    assert (mine["OMP_NUM_THREADS"], mine["MKL_NUM_THREADS"], mine["NUMBA_NUM_THREADS"]) == ("3", "3", "2")


TORCHRUN_WALL = """\
error: SHD file not found: data/shd_train.h5; download it
error: SHD file not found: data/shd_train.h5; download it
W1203 16:52:18.874000 21021 torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 2 closing signal SIGTERM
E1203 16:52:19.003000 21021 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 2) local_rank: 0
Traceback (most recent call last):
  File "torch/distributed/run.py", line 1032, in <module>
    main()
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
snnlab.cli FAILED
------------------------------------------------------------
Root Cause (first observed failure):
  exitcode  : 2 (pid: 21176)
============================================================
"""


def test_stderr_filter_keeps_one_error_line_and_drops_torchruns_report() -> None:
    import io

    from snnlab.train.distributed import _StderrFilter

    out = io.StringIO()
    sink = _StderrFilter(out)
    for line in TORCHRUN_WALL.splitlines(keepends=True):
        sink.feed(line)
    sink.close()
    assert out.getvalue() == "error: SHD file not found: data/shd_train.h5; download it\n"
    assert sink.seen_errors


def test_stderr_filter_shows_a_workers_own_traceback() -> None:
    import io

    from snnlab.train.distributed import _StderrFilter

    out = io.StringIO()
    sink = _StderrFilter(out)
    bug = 'epoch 1/2\nTraceback (most recent call last):\n  File "x.py", line 1\nZeroDivisionError: boom\n'
    for line in bug.splitlines(keepends=True):
        sink.feed(line)
    sink.close()
    assert out.getvalue() == bug and not sink.seen_errors


def test_workers_are_pinned_unless_the_user_says_no() -> None:
    from snnlab.train.distributed import worker_env

    assert worker_env(2, {}, cores=2)["SNNLAB_PIN_CORES"] == "1"
    assert worker_env(2, {"SNNLAB_PIN_CORES": "0"}, cores=2)["SNNLAB_PIN_CORES"] == "0"


PIN = (
    "import os, json; from snnlab.train.distributed import pin_cores\n"
    "before = sorted(os.sched_getaffinity(0)); got = pin_cores({rank}, {world})\n"
    "print(json.dumps([before, got, sorted(os.sched_getaffinity(0))]))\n"
)


@pytest.mark.parametrize("rank,world,threads", [(0, 2, None), (1, 2, None), (1, 2, "1"), (0, 2, "64"), (0, 999, None)])
def test_pin_cores_binds_each_rank_to_its_share(rank, world, threads) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads:
        env["OMP_NUM_THREADS"] = threads
    out = subprocess.run(
        [sys.executable, "-c", PIN.format(rank=rank, world=world)], env=env, capture_output=True, text=True, timeout=120
    )
    before, got, after = json.loads(out.stdout)
    k = len(before) // world
    if k < 1 or (threads and int(threads) > k):
        assert got == [] and after == before  # left alone
    else:
        assert got == after == before[rank * k : (rank + 1) * k]


def test_worker_exit_flushes_and_returns_the_code(tmp_path: Path) -> None:
    """A torchrun worker leaves through ``worker_exit``: its buffered output reaches the pipe and the
    exit code is the command's, without the interpreter's teardown (which raced under torchrun)."""
    code = (
        "import sys; from snnlab.train.distributed import worker_exit\n"
        "sys.stdout.write('last line'); sys.stderr.write('error: x')\n"
        "worker_exit(3)\n"
        "raise SystemExit(0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert proc.stdout == "last line" and proc.stderr == "error: x"


def test_cli_module_ends_a_worker_through_worker_exit(tmp_path: Path) -> None:
    """``python -m snnlab.cli`` with ``WORLD_SIZE > 1`` (how torchrun starts it) exits through worker_exit."""
    env = {**os.environ, "WORLD_SIZE": "2"}
    probe = (
        "import runpy, sys\n"
        "import snnlab.train.distributed as d\n"
        "def fake(code):\n"
        "    print('worker_exit', code); sys.stdout.flush(); raise SystemExit(code)\n"
        "d.worker_exit = fake\n"
        "sys.argv = ['snnlab', 'nosuchcommand']\n"
        "runpy.run_module('snnlab.cli', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert "worker_exit 2" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 2
