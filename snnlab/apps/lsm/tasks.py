"""LSM tasks: reservoir features, the trainable readout, classification runs.

``run_classification(recipe)`` builds the dataset and a (software or RRAM) reservoir, collects
spike-count features once (the reservoir is frozen), trains a readout (linear or small MLP,
Adam, cross-entropy) on standardised features with the shared loop (:func:`snnlab.train.fit.fit`)
and reports test accuracy and energy.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Optional

import torch
from torch import nn

from snnlab.apps.lsm.recipe import LSMData, LSMRecipe, Readout
from snnlab.apps.lsm.reservoir import LiquidStateMachine, LSMConfig
from snnlab.errors import ConfigError
from snnlab.train.config import OptimizerConfig
from snnlab.train.fit import PermutationSampler, fit, logits_loss


def prepare(x: torch.Tensor, data: LSMData) -> torch.Tensor:
    """Frames ``(T, B, ...)`` -> reservoir input ``(T, B, n_inputs)`` (crop, merge polarity, flatten)."""
    if x.dim() == 5 and data.crop:  # (T, B, P, H, W)
        h, w = x.shape[-2:]
        if data.crop > min(h, w):
            raise ConfigError(f"data.crop={data.crop} is larger than the {h}x{w} sensor of {data.name!r}")
        top, left = (h - data.crop) // 2, (w - data.crop) // 2
        x = x[..., top : top + data.crop, left : left + data.crop]
    if x.dim() == 5 and data.merge_polarity:
        x = x.amax(2)
    return x.flatten(2)


def load_split(data: LSMData, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All frames of a split as ``(T, N, n_inputs)`` and labels ``(N,)``."""
    from snnlab.data import collate_time_major, create_dataset

    opts = {"n_time_bins": data.n_time_bins} if data.name in ("digits", "nmnist", "ntidigits") else {}
    ds = create_dataset(data.name, data.root, split, **opts)
    n = len(ds) if data.limit is None else min(len(ds), data.limit)
    x, y = collate_time_major([ds[i] for i in range(n)])
    return prepare(x, data), y


def reservoir_features(lsm: LiquidStateMachine, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Spike counts ``(N, n_reservoir)`` of inputs ``(T, N, n_inputs)``, in batches."""
    return torch.cat([lsm.features(x[:, i : i + batch]) for i in range(0, x.shape[1], batch)])


def train_readout(f_train: torch.Tensor, y_train: torch.Tensor, n_classes: int, cfg: Readout) -> nn.Module:
    """Train a readout on standardised features; the returned module standardises itself.

    Adam (``cfg.lr``) on the cross-entropy, ``cfg.epochs`` passes in batches of ``cfg.batch``
    samples, one permutation per epoch from a generator seeded with ``cfg.seed``.
    """
    torch.manual_seed(cfg.seed)
    mean, std = f_train.mean(0), f_train.std(0) + 1e-6
    head: nn.Module = (
        nn.Linear(f_train.shape[1], n_classes)
        if cfg.hidden == 0
        else nn.Sequential(nn.Linear(f_train.shape[1], cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, n_classes))
    )
    model = _Standardized(head, mean, std)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(f_train, y_train),
        batch_size=cfg.batch,
        sampler=PermutationSampler(len(y_train), gen),
    )
    fit(model, loader, logits_loss, OptimizerConfig(name="adam", lr=cfg.lr), cfg.epochs)
    return model.eval()


class _Standardized(nn.Module):
    """A readout head behind a fixed standardisation of the features."""

    def __init__(self, head: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, classes)`` of features ``(B, n_reservoir)``."""
        return self.head((f - self.mean) / self.std)


def accuracy(model: nn.Module, f: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on features ``f`` with labels ``y``."""
    with torch.no_grad():
        return float((model(f).argmax(1) == y).float().mean())


def build_lsm(recipe: LSMRecipe, n_inputs: int, **overrides: Any) -> LiquidStateMachine:
    """The recipe's reservoir for ``n_inputs`` input rows; ``overrides`` replace ``lsm`` fields."""
    return LiquidStateMachine(LSMConfig(n_inputs=n_inputs, **{**recipe.lsm, **overrides}))


Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]


def load_splits(data: LSMData) -> Splits:
    """Train and test frames of a recipe (load once, reuse for every reservoir of a study)."""
    return {split: load_split(data, split) for split in ("train", "test")}


def evaluate_lsm(lsm: LiquidStateMachine, splits: Splits, readout: Readout) -> dict[str, Any]:
    """Features of both splits, readout training, accuracies and test-set energy per inference."""
    (x_tr, y_tr), (x_te, y_te) = splits["train"], splits["test"]
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    f_tr = reservoir_features(lsm, x_tr)
    lsm.energy.reset()
    f_te = reservoir_features(lsm, x_te)
    energy = lsm.energy.report(lsm, x_te.shape[1])
    model = train_readout(f_tr, y_tr, n_classes, readout)
    return {
        "test_accuracy": accuracy(model, f_te, y_te),
        "train_accuracy": accuracy(model, f_tr, y_tr),
        "firing_rate": float(f_te.mean() / x_te.shape[0]),
        "energy_per_inference_pj": energy,
    }


def run_classification(recipe: LSMRecipe, splits: Optional[Splits] = None) -> dict[str, Any]:
    """Features -> readout -> test accuracy, energy per inference and timings."""
    start = time.perf_counter()
    splits = splits or load_splits(recipe.data)
    x_tr, x_te = splits["train"][0], splits["test"][0]
    lsm = build_lsm(recipe, x_tr.shape[2])
    result = evaluate_lsm(lsm, splits, recipe.readout)
    return {
        "name": recipe.name,
        "hardware": lsm.cfg.hardware or "software",
        **result,
        "n_train": int(x_tr.shape[1]),
        "n_test": int(x_te.shape[1]),
        "timesteps": int(x_tr.shape[0]),
        "n_inputs": int(x_tr.shape[2]),
        "lsm": asdict(lsm.cfg),
        "readout": asdict(recipe.readout),
        "seconds": time.perf_counter() - start,
    }
