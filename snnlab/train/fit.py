"""Fitting in-memory models on the shared epoch loop (the studies of :mod:`snnlab.apps`).

The :class:`~snnlab.train.Trainer` turns a recipe into a run folder (datasets by name, models
from the registry, checkpoints, metrics). Some studies train a small part on data they built
themselves: the readout of a frozen reservoir on its spike counts, two projections with a
contrastive loss, a delay kernel on voxels sampled from each batch of movies. They do it here,
through the same :func:`~snnlab.train.loop.train_epoch` (backward, optimiser step, schedules,
totals) and the same :class:`~snnlab.train.optim.OptimizerSet`, with a loss that follows the
loop's contract: ``loss_fn(out, y) -> (loss, scores)``, whose argmax is compared with ``y``.

Every random draw comes from a generator the caller seeds: :class:`PermutationSampler` takes
one permutation per epoch from it and nothing else, so a collate function may draw from the same
generator and a fit is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from snnlab.train.config import OptimizerConfig
from snnlab.train.distributed import DistContext
from snnlab.train.loop import LossFn, StepConfig, train_epoch
from snnlab.train.optim import OptimizerSet

Log = Callable[[str], None]


class PermutationSampler(torch.utils.data.Sampler[int]):
    """One ``torch.randperm(n, generator)`` per epoch (no other draw from ``generator``)."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n, self.generator = int(n), generator

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.n, generator=self.generator).tolist())

    def __len__(self) -> int:
        return self.n


def logits_loss(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of logits ``out (B, C)`` against labels ``y (B,)``; the scores are the logits."""
    return F.cross_entropy(out, y), out


def fit(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    loss_fn: LossFn,
    optimizers: OptimizerConfig | Sequence[OptimizerConfig],
    epochs: int,
    log: Optional[Log] = None,
    device: str | torch.device = "cpu",
    grad_clip: Optional[float] = None,
) -> list[dict[str, float]]:
    """Train ``model`` for ``epochs`` passes over ``loader`` on the shared loop.

    Args:
        model: trained in place (left in train mode).
        loader: yields ``(x, y)``; ``loader.batch_size`` must be set (it sizes the progress bar).
        loss_fn: ``(model(x), y) -> (loss, scores (B, C))``.
        optimizers: one optimiser (and its schedule) or several, as in a recipe's ``train.optimizers``.
        epochs: passes over ``loader``.
        log: called with one line per epoch.
        device: where the model and batches live.
        grad_clip: max global gradient norm, or None.

    Returns:
        One row per epoch: ``epoch``, ``train_loss`` (mean over samples), ``train_acc``, ``samples_per_s``.
    """
    configs = [optimizers] if isinstance(optimizers, OptimizerConfig) else list(optimizers)
    opt = OptimizerSet(model, configs, epochs, len(loader))
    step = StepConfig(torch.device(device), grad_clip=grad_clip)
    history = []
    for epoch in range(epochs):
        row = {"epoch": epoch + 1, **train_epoch(model, loader, loss_fn, opt, step, DistContext())}
        opt.end_epoch()
        history.append(row)
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {row['train_loss']:.5f}")
    return history


__all__ = ["PermutationSampler", "fit", "logits_loss"]
