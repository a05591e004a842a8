"""LSM tasks: reservoir features, the trainable readout, and the paper's recipes.

``run_classification(recipe)`` builds the dataset and a (software or RRAM) reservoir, collects
spike-count features once (the reservoir is frozen), trains a readout (linear or small MLP,
Adam, cross-entropy) on standardised features and reports test accuracy and energy.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.hw.rram_lsm import LiquidStateMachine, LSMConfig


@dataclass
class LSMData:
    name: str = "digits"
    root: Optional[str] = None
    n_time_bins: int = 50
    crop: Optional[int] = None  # centre crop of a 2-D sensor, pixels (N-MNIST: 16)
    merge_polarity: bool = True  # OR the two polarities (256 inputs for 16x16)
    limit: Optional[int] = None  # use only the first N samples of each split (smoke runs)


@dataclass
class Readout:
    hidden: int = 0  # 0 = linear readout
    lr: float = 1e-3
    epochs: int = 100
    batch: int = 100
    seed: int = 0


@dataclass
class LSMRecipe:
    name: str = "lsm"
    data: LSMData = field(default_factory=LSMData)
    lsm: dict[str, Any] = field(default_factory=dict)  # LSMConfig fields except n_inputs
    readout: Readout = field(default_factory=Readout)


def recipe_from_dict(d: dict[str, Any], where: str = "recipe") -> LSMRecipe:
    """Typed recipe from a YAML dict; unknown keys raise ConfigError listing the valid ones."""
    def build(cls, values, path):
        valid = cls.__dataclass_fields__
        unknown = set(values) - set(valid)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(f'{path}{k}' for k in unknown)}; valid: {sorted(valid)}")
        return cls(**values)

    d = dict(d)
    unknown_lsm = set(d.get("lsm", {})) - (set(LSMConfig.__dataclass_fields__) - {"n_inputs"})
    if unknown_lsm:
        raise ConfigError(f"{where}: unknown lsm key(s) {sorted(unknown_lsm)}; "
                          f"valid: {sorted(set(LSMConfig.__dataclass_fields__) - {'n_inputs'})}")
    data = build(LSMData, d.pop("data", {}), "data.")
    readout = build(Readout, d.pop("readout", {}), "readout.")
    lsm = d.pop("lsm", {})
    rest = build(LSMRecipe, d, "")
    return LSMRecipe(name=rest.name, data=data, lsm=lsm, readout=readout)


def prepare(x: torch.Tensor, data: LSMData) -> torch.Tensor:
    """Frames ``(T, B, ...)`` -> reservoir input ``(T, B, n_inputs)`` (crop, merge polarity, flatten)."""
    if x.dim() == 5 and data.crop:  # (T, B, P, H, W)
        h, w = x.shape[-2:]
        top, left = (h - data.crop) // 2, (w - data.crop) // 2
        x = x[..., top:top + data.crop, left:left + data.crop]
    if x.dim() == 5 and data.merge_polarity:
        x = x.amax(2)
    return x.flatten(2)


def load_split(data: LSMData, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All frames of a split as ``(T, N, n_inputs)`` and labels ``(N,)``."""
    from snnlab.data import collate_time_major, create_dataset

    opts = {"n_time_bins": data.n_time_bins} if data.name in ("digits", "nmnist", "ntidigits") else {}
    if data.name == "ntidigits":
        from snnlab.data.ntidigits import ntidigits_dataset
        ds = ntidigits_dataset(data.root, split, **opts)
    else:
        ds = create_dataset(data.name, data.root, split, **opts)
    n = len(ds) if data.limit is None else min(len(ds), data.limit)
    x, y = collate_time_major([ds[i] for i in range(n)])
    return prepare(x, data), y


def reservoir_features(lsm: LiquidStateMachine, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Spike counts ``(N, n_reservoir)`` of inputs ``(T, N, n_inputs)``, in batches."""
    return torch.cat([lsm.features(x[:, i:i + batch]) for i in range(0, x.shape[1], batch)])


def train_readout(f_train: torch.Tensor, y_train: torch.Tensor, n_classes: int, cfg: Readout) -> nn.Module:
    """Train a readout on standardised features; the returned module standardises itself."""
    torch.manual_seed(cfg.seed)
    mean, std = f_train.mean(0), f_train.std(0) + 1e-6
    head: nn.Module = nn.Linear(f_train.shape[1], n_classes) if cfg.hidden == 0 else nn.Sequential(
        nn.Linear(f_train.shape[1], cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, n_classes))
    model = _Standardized(head, mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(y_train), generator=gen)
        for i in range(0, len(order), cfg.batch):
            idx = order[i:i + cfg.batch]
            loss = nn.functional.cross_entropy(model(f_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


class _Standardized(nn.Module):
    def __init__(self, head: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.head((f - self.mean) / self.std)


def accuracy(model: nn.Module, f: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(f).argmax(1) == y).float().mean())


def build_lsm(recipe: LSMRecipe, n_inputs: int, **overrides: Any) -> LiquidStateMachine:
    return LiquidStateMachine(LSMConfig(n_inputs=n_inputs, **{**recipe.lsm, **overrides}))


def run_classification(recipe: LSMRecipe, splits: Optional[dict] = None) -> dict[str, Any]:
    """Features -> readout -> test accuracy, energy per inference and timings."""
    start = time.perf_counter()
    splits = splits or {s: load_split(recipe.data, s) for s in ("train", "test")}
    (x_tr, y_tr), (x_te, y_te) = splits["train"], splits["test"]
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    lsm = build_lsm(recipe, x_tr.shape[2])
    f_tr = reservoir_features(lsm, x_tr)
    lsm.energy.reset()
    f_te = reservoir_features(lsm, x_te)
    energy = lsm.energy.report(lsm, x_te.shape[1])
    readout = train_readout(f_tr, y_tr, n_classes, recipe.readout)
    return {
        "name": recipe.name, "hardware": lsm.cfg.hardware or "software",
        "test_accuracy": accuracy(readout, f_te, y_te), "train_accuracy": accuracy(readout, f_tr, y_tr),
        "firing_rate": float(f_te.mean() / x_te.shape[0]), "n_train": int(x_tr.shape[1]), "n_test": int(x_te.shape[1]),
        "timesteps": int(x_tr.shape[0]), "n_inputs": int(x_tr.shape[2]), "energy_per_inference_pj": energy,
        "lsm": asdict(lsm.cfg), "readout": asdict(recipe.readout), "seconds": time.perf_counter() - start,
    }
