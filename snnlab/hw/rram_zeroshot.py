"""Zero-shot multimodal learning with two frozen LSM encoders (Lin et al. 2025, LSM-CLIP).

Two reservoirs encode two event modalities of the same classes; only two projections
(Linear + GELU, ``proj_dim``) are trained, with a CLIP-style symmetric contrastive loss
(temperature ``tau``), on the *seen* classes. Evaluation is retrieval on the *unseen* classes:
each modality-B sample is matched by dot product against the class prototypes (mean
embeddings) of modality A; top-1 accuracy is reported for seen and unseen classes.

Offline demonstration (no downloads): modality A is the embedded digits as DVS events
(3 saccades, 16x16, polarities merged); modality B is a second event encoding of the same
scikit-learn digits, a 1-D "scan" stream: the upsampled image is read one row at a time,
each of the 16 columns a channel that spikes with probability proportional to intensity
(a cochlea-like 16-channel stream of 64 steps). Pairs are different samples of the same
class, so the projections must align classes, not instances. Batches hold one pair per seen
class, which avoids false negatives in the contrastive loss.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.hw.rram_lsm import LiquidStateMachine, LSMConfig
from snnlab.hw.rram_tasks import LSMData, build_section, check_lsm_section, load_split, reservoir_features


@dataclass
class ZeroShotRecipe:
    """Two frozen encoders (``LSMConfig`` fields per modality), projections, seen/unseen split."""

    name: str = "lsm_zeroshot_digits"
    seen: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    unseen: list[int] = field(default_factory=lambda: [8, 9])
    image_lsm: dict[str, Any] = field(default_factory=lambda: {"decay": 0.9, "threshold": 5.0, "const": 0.07})
    scan_lsm: dict[str, Any] = field(default_factory=lambda: {"decay": 0.9, "threshold": 5.0, "const": 0.07,
                                                              "input_gain": 100.0, "seed": 7})
    hardware: str | None = None
    proj_dim: int = 64
    temperature: float = 1.0
    lr: float = 1e-3
    epochs: int = 100
    steps_per_epoch: int = 20
    seed: int = 0
    image_bins: int = 50
    limit: int | None = None

    def validate(self) -> None:
        """Raise ConfigError for overlapping or out-of-range classes and bad hyperparameters."""
        if set(self.seen) & set(self.unseen) or not self.seen or len(self.unseen) < 2:
            raise ConfigError(f"{self.name}: seen and unseen classes must be disjoint, with >= 2 unseen; "
                              f"got seen={self.seen}, unseen={self.unseen}")
        if not all(0 <= c <= 9 for c in self.seen + self.unseen):
            raise ConfigError(f"{self.name}: classes must be digits 0..9")
        if self.temperature <= 0 or self.proj_dim < 1 or self.epochs < 1 or self.steps_per_epoch < 1:
            raise ConfigError(f"{self.name}: need temperature > 0 and proj_dim, epochs, steps_per_epoch >= 1")


def zeroshot_from_dict(d: dict[str, Any], where: str = "recipe") -> ZeroShotRecipe:
    """Typed zero-shot recipe from a YAML mapping; unknown keys and wrong types raise ConfigError."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {list(ZeroShotRecipe.__dataclass_fields__)}")
    encoders = ("image_lsm", "scan_lsm")
    try:
        recipe = build_section(ZeroShotRecipe, {k: v for k, v in d.items() if k not in encoders}, "")
        for key in encoders:
            if key in d:
                setattr(recipe, key, check_lsm_section(d[key] or {}, key))
    except ConfigError as err:
        raise ConfigError(f"{where}: {str(err).removeprefix(': ')}") from None
    recipe.validate()
    return recipe


def scan_events(images: np.ndarray, size: int = 16, steps_per_row: int = 4, seed: int = 0) -> torch.Tensor:
    """Digits ``(N, 8, 8)`` in [0, 16] -> scan stream ``(size * steps_per_row, N, size)`` of 0/1."""
    n = images.shape[0]
    up = np.repeat(np.repeat(images / 16.0, size // 8, 1), size // 8, 2)  # (N, size, size)
    rate = np.repeat(up, steps_per_row, axis=1)  # (N, T, size): row r shown for steps_per_row steps
    rng = np.random.default_rng(seed)
    spikes = (rng.random(rate.shape) < 0.8 * rate).astype(np.float32)
    return torch.from_numpy(spikes).permute(1, 0, 2).contiguous().reshape(-1, n, size)


def _modalities(recipe: ZeroShotRecipe, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    from snnlab.data.digits import split_indices

    x_img, y = load_split(LSMData("digits", n_time_bins=recipe.image_bins, limit=recipe.limit), split)
    digits = load_digits()
    idx = split_indices(digits.target, split)[: x_img.shape[1]]
    x_scan = scan_events(digits.images[idx], seed=recipe.seed + (0 if split == "train" else 1))
    return x_img, x_scan, y


class Projection(nn.Module):
    """Standardise frozen features, then Linear + GELU (the paper's OneFC head)."""

    def __init__(self, feats: torch.Tensor, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", feats.mean(0))
        self.register_buffer("std", feats.std(0) + 1e-6)
        self.fc = nn.Linear(feats.shape[1], dim)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.fc((f - self.mean) / self.std))


def clip_loss(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE on L2-normalised embeddings; row i of ``a`` pairs with row i of ``b``."""
    a, b = nn.functional.normalize(a, dim=1), nn.functional.normalize(b, dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0])
    return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target))


def _class_batches(y: torch.Tensor, classes: list[int], gen: torch.Generator) -> torch.Tensor:
    """One random sample index per class: (len(classes),)."""
    picks = []
    for c in classes:
        pool = torch.nonzero(y == c).flatten()
        picks.append(pool[torch.randint(len(pool), (1,), generator=gen)])
    return torch.cat(picks)


def retrieval_accuracy(emb_a: torch.Tensor, y_a: torch.Tensor, emb_b: torch.Tensor, y_b: torch.Tensor,
                       classes: list[int]) -> float:
    """Top-1 of matching each B embedding to the A class prototypes of ``classes``.

    Raises:
        ConfigError: a class has no sample in ``y_a`` or in ``y_b``.
    """
    missing = [c for c in classes if not bool((y_a == c).any()) or not bool((y_b == c).any())]
    if missing:
        raise ConfigError(f"retrieval: classes {missing} have no samples (raise data limit)")
    protos = torch.stack([nn.functional.normalize(emb_a[y_a == c], dim=1).mean(0) for c in classes])
    mask = torch.isin(y_b, torch.tensor(classes))
    pred = (nn.functional.normalize(emb_b[mask], dim=1) @ protos.T).argmax(1)
    return float((torch.tensor(classes)[pred] == y_b[mask]).float().mean())


def run_zeroshot(recipe: ZeroShotRecipe) -> dict[str, Any]:
    """Train the projections on seen classes; retrieval accuracy on seen and unseen test classes."""
    recipe.validate()
    start = time.perf_counter()
    torch.manual_seed(recipe.seed)
    (ia, sa, ya), (ib, sb, yb) = _modalities(recipe, "train"), _modalities(recipe, "test")
    hw = {"hardware": recipe.hardware}
    lsm_img = LiquidStateMachine(LSMConfig(n_inputs=ia.shape[2], **{**recipe.image_lsm, **hw}))
    lsm_scan = LiquidStateMachine(LSMConfig(n_inputs=sa.shape[2], **{**recipe.scan_lsm, **hw}))
    f_img, f_scan = reservoir_features(lsm_img, ia), reservoir_features(lsm_scan, sa)
    proj_img, proj_scan = Projection(f_img, recipe.proj_dim), Projection(f_scan, recipe.proj_dim)
    opt = torch.optim.Adam([*proj_img.parameters(), *proj_scan.parameters()], lr=recipe.lr)
    gen = torch.Generator().manual_seed(recipe.seed)
    for _ in range(recipe.epochs * recipe.steps_per_epoch):
        i, j = _class_batches(ya, recipe.seen, gen), _class_batches(ya, recipe.seen, gen)
        loss = clip_loss(proj_img(f_img[i]), proj_scan(f_scan[j]), recipe.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        e_img, e_scan = proj_img(reservoir_features(lsm_img, ib)), proj_scan(reservoir_features(lsm_scan, sb))
    return {
        "name": recipe.name, "hardware": recipe.hardware or "software", "seen": recipe.seen, "unseen": recipe.unseen,
        "scan_to_image_top1_seen": retrieval_accuracy(e_img, yb, e_scan, yb, recipe.seen),
        "scan_to_image_top1_unseen": retrieval_accuracy(e_img, yb, e_scan, yb, recipe.unseen),
        "chance_unseen": 1.0 / len(recipe.unseen), "final_loss": float(loss.detach()), "seconds": time.perf_counter() - start,
    }
