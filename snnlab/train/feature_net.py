"""The metric network of a dataset: train :class:`~snnlab.analysis.frechet.FeatureNet` once, cache
it with the reference statistics, and score image sets against them.

The classifier trains on the training images minus a held-out validation part (the epoch with
the best validation accuracy is kept); the reference statistics are its features of the whole
training split at the diffusion image size, as the papers take FID against training-set
statistics. The cache file (``featnet-<data>-<size>.pt``) holds the weights, the statistics and
the validation accuracy; it loads with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from snnlab.analysis.frechet import (
    FeatureNet,
    GaussianStats,
    extract,
    frechet_distance,
    gaussian_stats,
    inception_style_score,
)
from snnlab.errors import CheckpointError
from snnlab.train.checkpoint import atomic_save
from snnlab.train.diffusion_data import ImageDataConfig, load_labelled

SHORT_NAMES = {"fashion_mnist": "fmnist", "mnist": "mnist", "cifar10": "cifar10", "image_folder": "folder"}


def metric_name(data: ImageDataConfig) -> str:
    """``<data>net`` (e.g. "fmnistnet"): the metric is reported as FD-<this>, never as FID."""
    return SHORT_NAMES.get(data.name, data.name) + "net"


def _scaled(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1.0  # uint8 -> [-1, 1]


def _train_epoch(net: FeatureNet, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer, batch: int) -> None:
    net.train()
    order = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx = order[i : i + batch]
        loss = F.cross_entropy(net(_scaled(x[idx])), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@torch.no_grad()
def accuracy(net: FeatureNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    correct = sum(
        int((net(_scaled(x[i : i + 1000])).argmax(1) == y[i : i + 1000]).sum()) for i in range(0, len(x), 1000)
    )
    return correct / max(len(x), 1)


def train_feature_net(
    data: ImageDataConfig, epochs: int = 3, batch: int = 128, seed: int = 0, log: Callable[[str], None] = print
) -> tuple[FeatureNet, float]:
    """Train the metric classifier on train minus a fixed 10 % (at most 5,000), keep the epoch best on those."""
    torch.manual_seed(seed)
    x, y = load_labelled(dataclasses.replace(data, limit=None), "train")
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    n_valid = min(5000, max(1, x.shape[0] // 10))  # a fixed part of train; the test split is never read
    xv, yv, x, y = x[order[:n_valid]], y[order[:n_valid]], x[order[n_valid:]], y[order[n_valid:]]
    net = FeatureNet(in_channels=x.shape[1], num_classes=int(y.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    best, best_state = -1.0, None
    for epoch in range(epochs):
        _train_epoch(net, x, y, opt, batch)
        acc = accuracy(net, xv, yv)
        log(f"metric net {metric_name(data)}: epoch {epoch + 1}/{epochs} valid accuracy {acc:.4f}")
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.eval(), best


class FrechetMetric:
    """FD and inception-style score of image sets against a dataset's reference statistics."""

    def __init__(self, name: str, net: FeatureNet, reference: GaussianStats, valid_accuracy: float) -> None:
        self.name, self.net, self.reference, self.valid_accuracy = name, net.eval(), reference, valid_accuracy

    def stats_and_probs(self, images: torch.Tensor) -> tuple[GaussianStats, np.ndarray]:
        """Images in [-1, 1] (B, C, S, S) -> feature statistics and class probabilities."""
        feats, probs = extract(self.net.features, images, logits_fn=self.net.fc)
        return gaussian_stats(feats), probs

    def evaluate(self, images: torch.Tensor) -> dict[str, Any]:
        """``{"FD-<name>": float, "score-<name>": float, "score_std": float, "n": int}``; with the
        Inception network the keys are the papers' "FID", "IS" and "IS_std"."""
        stats, probs = self.stats_and_probs(images)
        score, std = inception_style_score(probs)
        fd = frechet_distance(stats, self.reference)
        if self.name == "inception":
            return {"FID": fd, "IS": score, "IS_std": std, "n": int(images.shape[0])}
        return {f"FD-{self.name}": fd, f"score-{self.name}": score, "score_std": std, "n": int(images.shape[0])}


def cache_path(data: ImageDataConfig, cache_dir: str | Path) -> Path:
    return Path(cache_dir) / f"featnet-{data.name}-{data.image_size}.pt"


def load_or_train_metric(
    data: ImageDataConfig, cache_dir: str | Path, epochs: int = 3, log: Callable[[str], None] = print
) -> FrechetMetric:
    """The cached metric of ``data`` at its image size, training and caching it when absent."""
    path = cache_path(data, cache_dir)
    if path.is_file():
        return _load_metric(path, data)
    net, acc = train_feature_net(data, epochs=epochs, log=log)
    ref = dataclasses.replace(data, limit=None)
    feats, _ = extract(net.features, _scaled(load_labelled(ref, "train")[0]))
    stats = gaussian_stats(feats)
    atomic_save(
        {
            "format": 1,
            "name": metric_name(data),
            "net": net.state_dict(),
            "valid_accuracy": acc,
            "mu": torch.from_numpy(stats.mu),
            "sigma": torch.from_numpy(stats.sigma),
            "n": stats.n,
            "in_channels": net.in_channels,
            "num_classes": net.fc.out_features,
        },
        path,
    )
    log(f"metric net cached: {path} (valid accuracy {acc:.4f}, reference: {stats.n} training images)")
    return FrechetMetric(metric_name(data), net, stats, acc)


def _load_metric(path: Path, data: ImageDataConfig) -> FrechetMetric:
    try:
        c = torch.load(path, map_location="cpu", weights_only=True)
        net = FeatureNet(in_channels=int(c["in_channels"]), num_classes=int(c["num_classes"]))
        net.load_state_dict(c["net"])
    except (KeyError, RuntimeError, OSError) as err:
        raise CheckpointError(
            f"{path}: not a metric cache of snnlab ({type(err).__name__}); delete it to retrain"
        ) from None
    stats = GaussianStats(c["mu"].numpy(), c["sigma"].numpy(), int(c["n"]))
    return FrechetMetric(str(c.get("name", metric_name(data))), net, stats, float(c["valid_accuracy"]))


def images_to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float [-1, 1] (the samplers' range)."""
    return _scaled(images)


def inception_metric(
    weights: str | Path,
    data: ImageDataConfig,
    cache_dir: str | Path,
    reference_n: int = 10000,
    builder: Callable[[], torch.nn.Module] | None = None,
    log: Callable[[str], None] = print,
) -> FrechetMetric:
    """FID / IS with InceptionV3 weights the user supplies (:mod:`snnlab.analysis.inception`).

    The reference statistics (the first ``reference_n`` training images at the data size) are
    cached beside the metric net, keyed by the weights file's name and size.
    """
    from snnlab.analysis.inception import FIDInceptionV3, load_feature_extractor

    net = load_feature_extractor(weights, builder or FIDInceptionV3)
    w = Path(weights)
    path = Path(cache_dir) / f"fid-ref-{data.name}-{data.image_size}-{w.stem}-{w.stat().st_size}-{reference_n}.npz"
    if path.is_file():
        ref = GaussianStats.load(path)
    else:
        images = load_labelled(dataclasses.replace(data, limit=reference_n), "train")[0]
        ref = gaussian_stats(extract(net.features, _scaled(images), batch=100)[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        ref.save(path)
        log(f"FID reference statistics cached: {path} ({ref.n} training images)")
    return FrechetMetric("inception", net, ref, float("nan"))
