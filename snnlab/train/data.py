"""Datasets and loaders of a run, built from :class:`snnlab.train.config.DataConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from snnlab.errors import ConfigError, DataError
from snnlab.train.config import DataConfig
from snnlab.train.distributed import DistContext, EpochSampler, per_rank_batch


@dataclass
class RunData:
    """Train/test (and optional validation) datasets, their loaders, and the input's shape and classes."""

    train_set: Any
    test_set: Any
    train_loader: torch.utils.data.DataLoader
    test_loader: torch.utils.data.DataLoader
    sampler: EpochSampler
    generator: torch.Generator
    num_classes: int
    input_shape: tuple[int, ...]
    valid_set: Any = None  # set when ``data.valid_split`` is
    valid_loader: Optional[torch.utils.data.DataLoader] = None

    @property
    def selection_loader(self) -> torch.utils.data.DataLoader:
        """The loader evaluated every epoch: validation when there is one, else test."""
        return self.valid_loader if self.valid_loader is not None else self.test_loader


def _limit_of(cfg: DataConfig, split: str, train: bool) -> tuple[str, Optional[int]]:
    """The ``data.limit_*`` field that caps ``split`` and its value."""
    if train:
        return "limit_train", cfg.limit_train
    if cfg.valid_split is not None and split == cfg.valid_split:
        return "limit_valid", cfg.limit_valid
    return "limit_test", cfg.limit_test


def build_dataset(cfg: DataConfig, split: str, train: bool) -> Any:
    """One split through ``snnlab.data.create_dataset``, limited to the first N samples if asked.

    ``data.train_options`` (augmentation, ``holdout_valid``) are added for the training split
    only (``train=True``); every other split gets ``data.options`` alone.
    """
    from snnlab.data import create_dataset

    options = {**cfg.options, **(cfg.train_options if train else {})}
    ds = create_dataset(cfg.name, cfg.root, split, **options)
    name, limit = _limit_of(cfg, split, train)
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"data.{name} must be >= 1, got {limit}")
        sub = torch.utils.data.Subset(ds, range(min(limit, len(ds))))
        for attr in ("num_classes", "input_shape", "timesteps", "collate_fn", "contains_valid"):
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
    return torch.utils.data.DataLoader(
        ds, batch_size=cfg.eval_batch_size, sampler=sampler, num_workers=cfg.num_workers, collate_fn=collate_of(ds)
    )


def build_valid(cfg: DataConfig, train_set: Any, ctx: DistContext) -> tuple[Any, Optional[torch.utils.data.DataLoader]]:
    """The validation split and its loader, or ``(None, None)`` without ``data.valid_split``.

    Raises:
        ConfigError: the training split still holds the validation samples (a reader that
            carves ``valid`` out of ``train`` marks that with ``contains_valid``).
    """
    if cfg.valid_split is None:
        return None, None
    if getattr(train_set, "contains_valid", False):
        raise ConfigError(
            f"data.valid_split: the '{cfg.train_split}' split of '{cfg.name}' still contains the "
            f"'{cfg.valid_split}' samples; hold them out with data.train_options.holdout_valid: true"
        )
    valid_set = build_dataset(cfg, cfg.valid_split, train=False)
    return valid_set, eval_loader(valid_set, cfg, ctx)


def check_labels(ds: Any, cfg: DataConfig, split: Optional[str], num_classes: int) -> None:
    """Labels of a dataset that exposes them (``labels``) lie in ``0..num_classes-1``: checked before
    training, not found by the loss after an epoch.

    Raises:
        DataError: a label outside the class range, naming the split and the sample.
    """
    base = getattr(ds, "dataset", ds)
    labels = getattr(base, "labels", None)
    if ds is None or num_classes < 1 or labels is None:
        return
    try:
        import numpy as np

        values = np.asarray(labels).reshape(-1)
        if isinstance(ds, torch.utils.data.Subset):
            values = values[np.asarray(ds.indices, dtype=np.int64)]
        bad = np.nonzero((values < 0) | (values >= num_classes))[0]
    except (TypeError, ValueError, IndexError):
        return  # labels that are not a plain array (text targets): the reader checks them
    if bad.size:
        raise DataError(
            f"data: the '{split}' split of '{cfg.name}' has label {values[bad[0]]} at sample {bad[0]} "
            f"({bad.size} out of range); valid: class ids 0..{num_classes - 1}"
        )


def build_run_data(cfg: DataConfig, seed: int, ctx: DistContext) -> RunData:
    """Datasets and loaders for training (shuffled per ``seed + epoch``), validation and testing."""
    train_set = build_dataset(cfg, cfg.train_split, train=True)
    valid_set, valid_loader = build_valid(cfg, train_set, ctx)
    test_set = build_dataset(cfg, cfg.test_split, train=False)
    for split, ds in ((cfg.train_split, train_set), (cfg.valid_split, valid_set), (cfg.test_split, test_set)):
        if ds is not None and len(ds) == 0:
            raise DataError(
                f"data: the '{split}' split of '{cfg.name}'"
                + (f" in {cfg.root}" if cfg.root else "")
                + " holds no samples; valid: a dataset with at least one sample in every split "
                f"(train_split '{cfg.train_split}', valid_split {cfg.valid_split!r}, test_split "
                f"'{cfg.test_split}')"
            )
    for split, ds in ((cfg.train_split, train_set), (cfg.valid_split, valid_set), (cfg.test_split, test_set)):
        check_labels(ds, cfg, split, int(getattr(train_set, "num_classes", 0)))
    sampler = EpochSampler(len(train_set), shuffle=True, seed=seed, ctx=ctx, even=True)
    generator = torch.Generator().manual_seed(seed)
    train_loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=per_rank_batch(cfg.batch_size, ctx),
        sampler=sampler,
        num_workers=cfg.num_workers,
        collate_fn=collate_of(train_set),
        generator=generator,
        drop_last=False,
        persistent_workers=False,
    )
    num_classes = int(getattr(train_set, "num_classes", 0))
    input_shape = tuple(int(s) for s in getattr(train_set, "input_shape", ()))
    return RunData(
        train_set,
        test_set,
        train_loader,
        eval_loader(test_set, cfg, ctx),
        sampler,
        generator,
        num_classes,
        input_shape,
        valid_set,
        valid_loader,
    )
