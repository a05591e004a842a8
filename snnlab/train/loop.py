"""One training epoch and one evaluation pass; the trainer composes them.

Both work for a single process and for DDP ranks: totals (loss sums, correct counts, spike
counts) are all-reduced so every rank reports the global figures.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn
from tqdm import tqdm

from snnlab.errors import TrainingError
from snnlab.models.layout import check_model_input
from snnlab.train.distributed import DistContext, all_reduce_sum
from snnlab.train.losses import OutputLoss
from snnlab.train.metrics import FiringRateMonitor
from snnlab.train.mixup import Mixup, soft_cross_entropy
from snnlab.train.optim import OptimizerSet

# (out, y) -> (loss, scores (B, C)); OutputLoss is one, apps bring others (see snnlab.train.fit)
LossFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class StepConfig:
    """What one optimisation step needs besides the batch."""

    device: torch.device
    amp_dtype: Optional[torch.dtype] = None  # autocast dtype on CUDA, None for full precision
    scaler: Optional[torch.amp.GradScaler] = None  # fp16 only
    grad_clip: Optional[float] = None
    max_batches: Optional[int] = None
    progress: bool = False
    hooks: list[Any] = field(default_factory=list)  # callables run after every optimiser step


def autocast(step: StepConfig) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA when configured; a no-op otherwise."""
    if step.amp_dtype is None or step.device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=step.amp_dtype)


def _to_device(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    nb = device.type == "cuda"
    return x.to(device, non_blocking=nb), y.to(device, non_blocking=nb)


def tally(loss_fn: Any, scores: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
    """``(correct, counted)`` of a batch: the loss's own ``tally`` (tokens of a language model),
    else class predictions ``scores (B, C)`` against labels ``y (B,)``."""
    if hasattr(loss_fn, "tally"):
        return loss_fn.tally(scores, y)
    return float((scores.argmax(1) == y).sum()), len(y)


def _backward_step(loss: torch.Tensor, model: nn.Module, opt: OptimizerSet, step: StepConfig) -> None:
    opt.zero_grad()
    if step.scaler is not None:
        step.scaler.scale(loss).backward()
        opt.unscale(step.scaler)
    else:
        loss.backward()
    if step.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), step.grad_clip)
    opt.step(step.scaler)
    if step.scaler is not None:
        step.scaler.update()
    for hook in step.hooks:
        hook()


def _loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, step: StepConfig, mixer: Optional[Mixup]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and loss of one batch; with an active ``mixer`` the batch is mixed and the loss is the
    soft-target cross-entropy on ``loss_fn.score`` (label smoothing inside the targets)."""
    if mixer is None or not mixer.active():
        with autocast(step):
            out = model(x)  # (T, B, classes)
        return loss_fn(out, y)
    x, target = mixer(x, y)  # target (B, classes)
    with autocast(step):
        out = model(x)
    scores = loss_fn.score(out)
    return soft_cross_entropy(scores, target), scores


def train_epoch(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    loss_fn: LossFn,
    opt: OptimizerSet,
    step: StepConfig,
    ctx: DistContext,
    desc: str = "train",
    mixer: Optional[Mixup] = None,
) -> dict[str, float]:
    """One pass over ``loader``; returns global ``train_loss``, ``train_acc``, ``samples_per_s``.

    With an active ``mixer`` (Mixup/CutMix) the loss needs ``loss_fn.score``; ``train_acc`` then
    compares with the unmixed labels."""
    model.train()
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, samples
    n_batches = len(loader) if step.max_batches is None else min(len(loader), step.max_batches)
    start = time.perf_counter()
    bar = tqdm(
        total=n_batches * loader.batch_size * ctx.world_size,
        desc=desc,
        unit="sample",
        unit_scale=False,
        leave=False,
        dynamic_ncols=True,
        disable=None if (step.progress and ctx.is_main) else True,
    )  # None: off when not a terminal
    for i, (x, y) in enumerate(loader):
        if i >= n_batches:
            break
        x, y = _to_device(x, y, step.device)  # x (T, B, ...) or (B, C, H, W); y (B,)
        if i == 0:
            check_model_input(model, x, y)  # batch-first data fails here, in one line
        loss, scores = _loss(model, x, y, loss_fn, step, mixer)
        _backward_step(loss, model, opt, step)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            bar.close()
            raise TrainingError(
                f"training diverged: the loss is {loss_value} at batch {i + 1} of {desc} "
                f"(learning rates {', '.join(f'{lr:g}' for lr in opt.lrs())}); lower "
                "train.optimizers.N.lr or set train.grad_clip; last.pt keeps the previous epoch"
            )
        correct, count = tally(loss_fn, scores, y)  # samples, or tokens for a language model
        batch = torch.tensor([loss_value * count, correct, count], dtype=torch.float64)
        totals += batch
        bar.update(y.shape[-1] * ctx.world_size)
        bar.set_postfix(loss=f"{loss_value:.3f}")
    bar.close()
    totals = all_reduce_sum(totals, ctx)
    elapsed = time.perf_counter() - start
    n = max(float(totals[2]), 1.0)
    return {
        "train_loss": float(totals[0]) / n,
        "train_acc": float(totals[1]) / n,
        "samples_per_s": float(totals[2]) / max(elapsed, 1e-9),
    }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    loss_fn: OutputLoss,
    step: StepConfig,
    ctx: DistContext,
    prefix: str = "test",
) -> dict[str, Any]:
    """Global ``<prefix>_loss``, ``<prefix>_acc`` (``prefix`` names the split: "test", "valid"),
    ``samples`` and per-layer firing rates (``rates``: name -> spikes/neuron/step)."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, samples
    with FiringRateMonitor(model) as monitor:
        for i, (x, y) in enumerate(loader):
            x, y = _to_device(x, y, step.device)
            if i == 0:
                check_model_input(model, x, y)
            with autocast(step):
                out = model(x)  # (T, B, classes)
            loss, scores = loss_fn(out, y)
            correct, count = tally(loss_fn, scores, y)
            totals += torch.tensor([float(loss) * count, correct, count], dtype=torch.float64)
    totals = all_reduce_sum(totals, ctx)
    spikes = all_reduce_sum(monitor.totals(), ctx)
    n = max(float(totals[2]), 1.0)
    return {
        f"{prefix}_loss": float(totals[0]) / n,
        f"{prefix}_acc": float(totals[1]) / n,
        "samples": int(totals[2]),
        "rates": monitor.rates(spikes),
    }
