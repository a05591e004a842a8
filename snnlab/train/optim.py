"""Optimisers and learning-rate schedules from :class:`snnlab.train.config.OptimizerConfig` entries.

Parameters are split between optimisers by name: an optimiser with ``params: "*.positions"``
takes the parameters whose names match; the one with ``params: "*"`` takes the rest. Inside a
group, ``no_decay`` globs (e.g. ``"*.bias,*bn*"``) get weight decay 0. Schedules are built from
PyTorch's own classes only, so their ``state_dict`` holds plain numbers (safe for
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.train.config import OptimizerConfig, SchedulerConfig


def _globs(spec: str) -> list[str]:
    return [g.strip() for g in spec.split(",") if g.strip()]


def _matches(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def split_parameters(model: nn.Module, configs: Sequence[OptimizerConfig]) -> list[list[tuple[str, nn.Parameter]]]:
    """Assign every trainable parameter to exactly one optimiser.

    Explicit selectors claim first (in order); ``"*"`` entries share the remainder (the first
    one takes it). Raises ConfigError when a selector matches nothing.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    taken: set[str] = set()
    groups: list[list[tuple[str, nn.Parameter]]] = [[] for _ in configs]
    order = sorted(range(len(configs)), key=lambda i: configs[i].params.strip() == "*")
    for i in order:
        globs = _globs(configs[i].params) or ["*"]
        groups[i] = [(n, p) for n, p in named if n not in taken and _matches(n, globs)]
        taken.update(n for n, _ in groups[i])
        if not groups[i]:
            examples = ", ".join(n for n, _ in named[:6])
            raise ConfigError(
                f"train.optimizers.{i}.params: '{configs[i].params}' selects no parameter (names look like: {examples})"
            )
    return groups


def build_optimizer(cfg: OptimizerConfig, params: list[tuple[str, nn.Parameter]]) -> torch.optim.Optimizer:
    """One optimiser over ``params`` (name, parameter) with the ``no_decay`` split."""
    nd = _globs(cfg.no_decay)
    decay = [p for n, p in params if not _matches(n, nd)]
    no_decay = [p for n, p in params if _matches(n, nd)]
    groups: list[dict[str, Any]] = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    groups = [g for g in groups if g["params"]]
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if len(cfg.betas) != 2:
        raise ConfigError(f"train.optimizers: betas must hold two numbers, got {cfg.betas}")
    cls = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    return cls(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)


def build_scheduler(
    opt: torch.optim.Optimizer, cfg: SchedulerConfig, lr: float, epochs: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The schedule of one optimiser; its length counts epochs or batches per ``cfg.interval``."""
    total = epochs * (steps_per_epoch if cfg.interval == "batch" else 1)
    sched = torch.optim.lr_scheduler
    if cfg.name == "none":
        return None
    if cfg.name == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=max(total, 1), eta_min=cfg.eta_min)
    if cfg.name == "onecycle":
        return sched.OneCycleLR(opt, max_lr=cfg.max_lr or 5.0 * lr, total_steps=max(total, 1), pct_start=cfg.pct_start)
    if cfg.name == "step":
        return sched.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "multistep":
        return sched.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    if cfg.name == "exponential":
        return sched.ExponentialLR(opt, gamma=cfg.gamma)
    warm = min(max(cfg.warmup, 0), max(total - 1, 0))
    cosine = sched.CosineAnnealingLR(opt, T_max=max(total - warm, 1), eta_min=cfg.eta_min)
    if warm == 0:
        return cosine
    linear = sched.LinearLR(opt, start_factor=cfg.warmup_start_factor, total_iters=warm)
    return sched.SequentialLR(opt, [linear, cosine], milestones=[warm])


class OptimizerSet:
    """Several optimisers and their schedules, driven together by the trainer."""

    def __init__(self, model: nn.Module, configs: Sequence[OptimizerConfig], epochs: int, steps_per_epoch: int) -> None:
        self.configs = list(configs)
        groups = split_parameters(model, self.configs)
        self.optimizers = [build_optimizer(c, g) for c, g in zip(self.configs, groups)]
        self.schedulers = [
            build_scheduler(o, c.scheduler, c.lr, epochs, steps_per_epoch)
            for o, c in zip(self.optimizers, self.configs)
        ]

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def step(self, scaler: torch.amp.GradScaler | None = None) -> None:
        """Step every optimiser (through the AMP scaler when given), then per-batch schedules."""
        for opt in self.optimizers:
            if scaler is not None:
                scaler.step(opt)
            else:
                opt.step()
        self._step_schedules("batch")

    def end_epoch(self) -> None:
        """Step the per-epoch schedules."""
        self._step_schedules("epoch")

    def _step_schedules(self, interval: str) -> None:
        for sch, cfg in zip(self.schedulers, self.configs):
            if sch is not None and cfg.scheduler.interval == interval:
                sch.step()

    def unscale(self, scaler: torch.amp.GradScaler) -> None:
        for opt in self.optimizers:
            scaler.unscale_(opt)

    def lrs(self) -> list[float]:
        """Current learning rate of each optimiser's first group."""
        return [opt.param_groups[0]["lr"] for opt in self.optimizers]

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() if s is not None else {} for s in self.schedulers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["optimizers"]) != len(self.optimizers):
            raise ConfigError(
                f"checkpoint holds {len(state['optimizers'])} optimisers, the config {len(self.optimizers)}"
            )
        for opt, sd in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(sd)
        for sch, sd in zip(self.schedulers, state["schedulers"]):
            if sch is not None:
                sch.load_state_dict(sd)
