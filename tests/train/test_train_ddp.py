"""DDP: two CPU processes (gloo) under torchrun reach the single-process result, because the
global batch is split evenly and the gradients average to the single process's."""

from __future__ import annotations

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
