"""Optimiser groups by name pattern, per-epoch/per-batch schedules, and the model hooks
(``on_epoch_end`` per epoch, ``after_optimizer_step`` per step) that the DCLS recipe needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.models import register_model
from snnlab.models.mlp import SpikingMLP
from snnlab.train import Trainer
from snnlab.train.config import OptimizerConfig, SchedulerConfig, load_config
from snnlab.train.optim import OptimizerSet, split_parameters

from .conftest import write_recipe


@register_model("test_hooked_mlp")
class HookedMLP(SpikingMLP):
    """A spiking MLP with a ``positions`` parameter and the two trainer hooks (counted in buffers)."""

    def __init__(self, in_features: int = 4, num_classes: int = 2, hidden: list[int] = (3,), tau: float = 2.0) -> None:
        super().__init__(in_features=in_features, num_classes=num_classes, hidden=hidden, tau=tau)
        self.delay = nn.ParameterDict({"positions": nn.Parameter(torch.zeros(3))})
        self.register_buffer("epoch_calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("step_calls", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.delay["positions"].square().sum()

    def on_epoch_end(self, epoch: int, epochs: int) -> None:
        assert 0 <= epoch < epochs
        self.epoch_calls += 1

    def after_optimizer_step(self) -> None:
        self.step_calls += 1
        with torch.no_grad():
            self.delay["positions"].clamp_(-0.5, 0.5)


def _two_groups() -> list[OptimizerConfig]:
    return [
        OptimizerConfig(
            params="*",
            lr=1e-3,
            weight_decay=1e-5,
            no_decay="*.bias",
            scheduler=SchedulerConfig(name="onecycle", max_lr=5e-3),
        ),
        OptimizerConfig(params="*.positions", lr=0.1, scheduler=SchedulerConfig(name="cosine", interval="batch")),
    ]


def test_split_by_name_pattern() -> None:
    model = HookedMLP(in_features=4, num_classes=2, hidden=[3])
    weights, positions = split_parameters(model, _two_groups())
    assert [n for n, _ in positions] == ["delay.positions"]
    assert "delay.positions" not in [n for n, _ in weights] and len(weights) == 4
    with pytest.raises(ConfigError, match="selects no parameter"):
        split_parameters(model, [OptimizerConfig(params="*.delays")])


def test_schedules_step_per_epoch_or_batch() -> None:
    model = HookedMLP(in_features=4, num_classes=2, hidden=[3])
    opts = OptimizerSet(model, _two_groups(), epochs=4, steps_per_epoch=5)
    assert [len(o.param_groups) for o in opts.optimizers] == [2, 1]  # decay / no-decay split
    assert opts.optimizers[0].param_groups[1]["weight_decay"] == 0.0
    lr_w, lr_p = opts.lrs()
    for _ in range(5):
        model(torch.rand(2, 1, 4)).sum().backward()
        opts.step()
    assert opts.lrs()[0] == lr_w  # OneCycle per epoch: unchanged within the epoch
    assert opts.lrs()[1] < lr_p  # cosine per batch: moved
    opts.end_epoch()
    assert opts.lrs()[0] != lr_w


def test_trainer_calls_model_hooks(tmp_path: Path) -> None:
    recipe = write_recipe(
        tmp_path,
        {
            "model": {"name": "test_hooked_mlp"},
            "train": {
                "optimizers": [
                    {"name": "adam", "params": "*", "lr": 1e-3, "scheduler": {"name": "onecycle"}},
                    {
                        "name": "adam",
                        "params": "*.positions",
                        "lr": 0.1,
                        "scheduler": {"name": "cosine", "interval": "batch"},
                    },
                ]
            },
        },
    )
    trainer = Trainer(load_config(recipe))
    trainer.fit()
    steps = len(trainer.data.train_loader)
    assert int(trainer.model.epoch_calls) == 2
    assert int(trainer.model.step_calls) == 2 * steps
    assert float(trainer.model.delay["positions"].detach().abs().max()) <= 0.5
