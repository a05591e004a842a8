"""Sample-quality metrics that work offline: Frechet distance and inception-style score in the
feature space of any network.

``FD = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))`` between Gaussians fitted to the
features of two image sets (Heusel et al. 2017); the score is
``exp(E_x KL(p(y|x) || p(y)))`` over class probabilities (Salimans et al. 2016), averaged over
splits. With InceptionV3 pool features and logits these are FID and IS; Inception weights cannot
be downloaded here, so snnlab's default features come from :class:`FeatureNet`, a small
classifier trained in the repo on the same data, and the metrics are named after it
("FD-<net>", "score-<net>"; e.g. FD-fmnistnet) so nobody mistakes them for the papers' FID.
The Frechet LeNet distance for MNIST and FullySpikingVAE's autoencoder FID do the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snnlab.errors import ShapeError


class FeatureNet(nn.Module):
    """Small CNN classifier; ``features`` is the penultimate layer, ``forward`` gives logits.

    Input: images ``(B, C, S, S)`` in [-1, 1] (S any size >= 8; it pools to 4x4).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 16, feature_dim: int = 128) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(16 * 4 * w, feature_dim),
            nn.ReLU(),
        )
        self.fc = nn.Linear(feature_dim, num_classes)
        self.in_channels = in_channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))  # (B, classes)


@dataclass
class GaussianStats:
    """Mean ``(D,)`` and covariance ``(D, D)`` of features (float64) over ``n`` images."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def save(self, path: str | Path) -> None:
        np.savez(path, mu=self.mu, sigma=self.sigma, n=self.n)

    @classmethod
    def load(cls, path: str | Path) -> GaussianStats:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mu"], z["sigma"], int(z["n"]))


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Fit mean and (unbiased) covariance to ``features`` (N, D), N >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ShapeError(f"features must be (N >= 2, D), got {f.shape}")
    return GaussianStats(f.mean(0), np.cov(f, rowvar=False), f.shape[0])


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Frechet distance between two Gaussians; ``tr((S_a S_b)^(1/2))`` via the symmetric
    ``S_a^(1/2) S_b S_a^(1/2)`` (same eigenvalues, stable for singular covariances)."""
    if a.mu.shape != b.mu.shape:
        raise ShapeError(f"feature sizes differ: {a.mu.shape} vs {b.mu.shape}")
    ra = _sqrt_psd(a.sigma)
    cross = np.linalg.eigvalsh(ra @ b.sigma @ ra)
    tr_sqrt = float(np.sqrt(np.clip(cross, 0, None)).sum())
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * tr_sqrt)


def inception_style_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """``exp(mean KL(p(y|x) || p(y)))`` per split: (mean, std) over splits."""
    p = np.asarray(probs, dtype=np.float64)
    splits = max(1, min(splits, p.shape[0]))
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(1).mean()
        scores.append(float(np.exp(kl)))
    return float(np.mean(scores)), float(np.std(scores))


@torch.no_grad()
def extract(
    net: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch: int = 500,
    logits_fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Features (and softmax probabilities when ``logits_fn`` is given) of images in [-1, 1]."""
    feats, probs = [], []
    for i in range(0, images.shape[0], batch):
        x = images[i : i + batch].float()
        f = net(x)
        feats.append(f.double().cpu().numpy())
        if logits_fn is not None:
            probs.append(F.softmax(logits_fn(f).double(), dim=1).cpu().numpy())
    return np.concatenate(feats), (np.concatenate(probs) if probs else None)
