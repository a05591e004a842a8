"""Zero-shot multimodal learning with two frozen LSM encoders (Lin et al. 2025, LSM-CLIP).

Two reservoirs encode two event modalities of the same classes; only two projections
(Linear + GELU, ``proj_dim``) are trained, with a CLIP-style symmetric contrastive loss
(temperature ``tau``), on the *seen* classes. Evaluation is retrieval among the test samples of
the seen classes and, separately, of the *unseen* ones: as the paper does (``retrieval: sample``),
each modality-B sample is matched with the nearest modality-A sample (cosine similarity) and
scores a hit when their classes agree; ``prototype`` matches it with the mean embedding of each
class instead, an easier task reported beside it. Top-1 accuracy is reported for both. The paper's
code compares raw dot products; here embeddings are L2-normalised as the contrastive loss does.

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
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from snnlab.apps.lsm.recipe import LSMData, ZeroShotRecipe
from snnlab.apps.lsm.reservoir import LiquidStateMachine, LSMConfig
from snnlab.apps.lsm.tasks import load_split, reservoir_features
from snnlab.errors import ConfigError
from snnlab.train.config import OptimizerConfig
from snnlab.train.fit import fit


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


def clip_logits(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cosine similarities over the temperature: ``a (B, D)``, ``b (B, D)`` -> ``(B, B)``."""
    a, b = nn.functional.normalize(a, dim=1), nn.functional.normalize(b, dim=1)
    return a @ b.T / temperature


def symmetric_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of the cross-entropies of the rows (A -> B) and of the columns (B -> A) of ``logits (B, B)``."""
    return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target))


def clip_loss(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE on L2-normalised embeddings; row i of ``a`` pairs with row i of ``b``."""
    return symmetric_cross_entropy(clip_logits(a, b, temperature), torch.arange(a.shape[0]))


def pair_loss(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CLIP loss on the shared loop's contract: ``(loss, scores)``; ``target`` = position of the pair."""
    return symmetric_cross_entropy(logits, target), logits


class PairEncoder(nn.Module):
    """Both projections: pairs ``x (B, F_a + F_b)`` (features of A, then of B) -> CLIP logits ``(B, B)``."""

    def __init__(self, proj_a: nn.Module, proj_b: nn.Module, split: int, temperature: float) -> None:
        super().__init__()
        self.proj_a, self.proj_b, self.split, self.temperature = proj_a, proj_b, split, temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return clip_logits(self.proj_a(x[:, : self.split]), self.proj_b(x[:, self.split :]), self.temperature)


def _class_batches(y: torch.Tensor, classes: list[int], gen: torch.Generator) -> torch.Tensor:
    """One random sample index per class: (len(classes),)."""
    picks = []
    for c in classes:
        pool = torch.nonzero(y == c).flatten()
        picks.append(pool[torch.randint(len(pool), (1,), generator=gen)])
    return torch.cat(picks)


class ClassPairSampler(torch.utils.data.Sampler[tuple[int, int]]):
    """Each step: one random sample per class for modality A, then one per class for B.

    A batch of ``len(classes)`` pairs holds every class once, so no pair in it is a false
    negative for the contrastive loss.
    """

    def __init__(self, y: torch.Tensor, classes: list[int], steps: int, generator: torch.Generator) -> None:
        self.y, self.classes, self.steps, self.generator = y, list(classes), steps, generator

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for _ in range(self.steps):
            i, j = (
                _class_batches(self.y, self.classes, self.generator),
                _class_batches(self.y, self.classes, self.generator),
            )
            yield from zip(i.tolist(), j.tolist())

    def __len__(self) -> int:
        return self.steps * len(self.classes)


class _Pairs(torch.utils.data.Dataset):
    """Pair ``(i, j)`` -> features of A sample ``i`` then of B sample ``j``: (F_a + F_b,)."""

    def __init__(self, f_a: torch.Tensor, f_b: torch.Tensor) -> None:
        self.f_a, self.f_b = f_a, f_b

    def __getitem__(self, pair: tuple[int, int]) -> torch.Tensor:
        return torch.cat([self.f_a[pair[0]], self.f_b[pair[1]]])


def _collate_pairs(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs (B, F_a + F_b) and their targets: pair k matches column k (B,)."""
    return torch.stack(items), torch.arange(len(items))


def _check_classes(y_a: torch.Tensor, y_b: torch.Tensor, classes: list[int]) -> None:
    missing = [c for c in classes if not bool((y_a == c).any()) or not bool((y_b == c).any())]
    if missing:
        raise ConfigError(f"retrieval: classes {missing} have no samples (raise data limit)")


def retrieval_accuracy(
    emb_a: torch.Tensor,
    y_a: torch.Tensor,
    emb_b: torch.Tensor,
    y_b: torch.Tensor,
    classes: list[int],
    mode: str = "prototype",
) -> float:
    """Top-1 of matching each B embedding of ``classes`` with modality A (cosine similarity).

    ``prototype``: against the mean normalised A embedding of each class. ``sample``: against
    every A sample of ``classes``; a hit when the nearest one has the query's class.

    Raises:
        ConfigError: a class has no sample in ``y_a`` or in ``y_b``, or an unknown ``mode``.
    """
    _check_classes(y_a, y_b, classes)
    cls = torch.tensor(classes)
    query = nn.functional.normalize(emb_b[torch.isin(y_b, cls)], dim=1)  # (Q, D)
    truth = y_b[torch.isin(y_b, cls)]
    if mode == "prototype":
        protos = torch.stack([nn.functional.normalize(emb_a[y_a == c], dim=1).mean(0) for c in classes])
        pred = cls[(query @ protos.T).argmax(1)]
    elif mode == "sample":
        gallery = torch.isin(y_a, cls)
        pred = y_a[gallery][(query @ nn.functional.normalize(emb_a[gallery], dim=1).T).argmax(1)]
    else:
        raise ConfigError(f"retrieval: '{mode}' is not valid; valid: prototype, sample")
    return float((pred == truth).float().mean())


def _encoders(recipe: ZeroShotRecipe, n_img: int, n_scan: int) -> tuple[LiquidStateMachine, LiquidStateMachine]:
    hw = {"hardware": recipe.hardware}
    return (
        LiquidStateMachine(LSMConfig(n_inputs=n_img, **{**recipe.image_lsm, **hw})),
        LiquidStateMachine(LSMConfig(n_inputs=n_scan, **{**recipe.scan_lsm, **hw})),
    )


def _fit_projections(
    recipe: ZeroShotRecipe, f_img: torch.Tensor, f_scan: torch.Tensor, y: torch.Tensor
) -> tuple[PairEncoder, list[dict[str, float]]]:
    """Train the two projections on pairs of the seen classes with the shared loop."""
    model = PairEncoder(
        Projection(f_img, recipe.proj_dim), Projection(f_scan, recipe.proj_dim), f_img.shape[1], recipe.temperature
    )
    gen = torch.Generator().manual_seed(recipe.seed)
    loader = torch.utils.data.DataLoader(
        _Pairs(f_img, f_scan),
        batch_size=len(recipe.seen),
        collate_fn=_collate_pairs,
        sampler=ClassPairSampler(y, recipe.seen, recipe.steps_per_epoch, gen),
    )
    history = fit(model, loader, pair_loss, OptimizerConfig(name="adam", lr=recipe.lr), recipe.epochs)
    return model, history


def run_zeroshot(recipe: ZeroShotRecipe) -> dict[str, Any]:
    """Train the projections on seen classes; retrieval accuracy on seen and unseen test classes."""
    recipe.validate()
    start = time.perf_counter()
    torch.manual_seed(recipe.seed)
    (ia, sa, ya), (ib, sb, yb) = _modalities(recipe, "train"), _modalities(recipe, "test")
    lsm_img, lsm_scan = _encoders(recipe, ia.shape[2], sa.shape[2])
    f_img, f_scan = reservoir_features(lsm_img, ia), reservoir_features(lsm_scan, sa)
    model, history = _fit_projections(recipe, f_img, f_scan, ya)
    with torch.no_grad():
        e_img = model.proj_a(reservoir_features(lsm_img, ib))
        e_scan = model.proj_b(reservoir_features(lsm_scan, sb))
    scores = {
        mode: {
            "seen": retrieval_accuracy(e_img, yb, e_scan, yb, recipe.seen, mode),
            "unseen": retrieval_accuracy(e_img, yb, e_scan, yb, recipe.unseen, mode),
        }
        for mode in ("sample", "prototype")
    }
    main = scores[recipe.retrieval]
    return {
        "name": recipe.name,
        "hardware": recipe.hardware or "software",
        "seen": recipe.seen,
        "unseen": recipe.unseen,
        "retrieval": recipe.retrieval,
        "scan_to_image_top1_seen": main["seen"],
        "scan_to_image_top1_unseen": main["unseen"],
        "by_retrieval": scores,
        "chance_unseen": 1.0 / len(recipe.unseen),
        "final_loss": history[-1]["train_loss"],
        "seconds": time.perf_counter() - start,
    }
