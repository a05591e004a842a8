"""Datasets and loaders of a run, built from :class:`snnlab.config.DataConfig`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from snnlab.config import DataConfig
from snnlab.errors import ConfigError
from snnlab.train.distributed import DistContext, EpochSampler, per_rank_batch


@dataclass
class RunData:
    """Train/test datasets, their loaders, and what the model needs to know about the input."""

    train_set: Any
    test_set: Any
    train_loader: torch.utils.data.DataLoader
    test_loader: torch.utils.data.DataLoader
    sampler: EpochSampler
    generator: torch.Generator
    num_classes: int
    input_shape: tuple[int, ...]


def build_dataset(cfg: DataConfig, split: str, train: bool) -> Any:
    """One split through ``snnlab.data.create_dataset``, limited to the first N samples if asked."""
    from snnlab.data import create_dataset

    options = {**cfg.options, **(cfg.train_options if train else {})}
    ds = create_dataset(cfg.name, cfg.root, split, **options)
    limit = cfg.limit_train if train else cfg.limit_test
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"data.limit_{'train' if train else 'test'} must be >= 1, got {limit}")
        sub = torch.utils.data.Subset(ds, range(min(limit, len(ds))))
        for attr in ("num_classes", "input_shape", "timesteps", "collate_fn"):
            if hasattr(ds, attr):
                setattr(sub, attr, getattr(ds, attr))
        ds = sub
    return ds


def collate_of(ds: Any) -> Callable:
    """The dataset's ``collate_fn``, else time-major collation."""
    from snnlab.data import collate_time_major

    return getattr(ds, "collate_fn", None) or collate_time_major


def eval_loader(ds: Any, cfg: DataConfig, ctx: DistContext) -> torch.utils.data.DataLoader:
    """Ordered loader over this rank's share of ``ds`` (every sample exactly once overall)."""
    sampler = EpochSampler(len(ds), shuffle=False, seed=0, ctx=ctx, even=False)
    return torch.utils.data.DataLoader(ds, batch_size=cfg.eval_batch_size, sampler=sampler,
                                       num_workers=cfg.num_workers, collate_fn=collate_of(ds))


def build_run_data(cfg: DataConfig, seed: int, ctx: DistContext) -> RunData:
    """Datasets and loaders for training (shuffled per ``seed + epoch``) and testing."""
    train_set = build_dataset(cfg, cfg.train_split, train=True)
    test_set = build_dataset(cfg, cfg.test_split, train=False)
    sampler = EpochSampler(len(train_set), shuffle=True, seed=seed, ctx=ctx, even=True)
    generator = torch.Generator().manual_seed(seed)
    train_loader = torch.utils.data.DataLoader(
        train_set, batch_size=per_rank_batch(cfg.batch_size, ctx), sampler=sampler, num_workers=cfg.num_workers,
        collate_fn=collate_of(train_set), generator=generator, drop_last=False,
        persistent_workers=False)
    num_classes = int(getattr(train_set, "num_classes", 0))
    input_shape = tuple(int(s) for s in getattr(train_set, "input_shape", ()))
    return RunData(train_set, test_set, train_loader, eval_loader(test_set, cfg, ctx), sampler, generator,
                   num_classes, input_shape)
