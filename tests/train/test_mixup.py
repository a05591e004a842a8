"""Mixup / CutMix with label smoothing against their definitions, and in the trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.train.config import MixupConfig
from snnlab.train.mixup import Mixup, cutmix_box, smooth_one_hot, soft_cross_entropy


def test_smoothed_targets():
    t = smooth_one_hot(torch.tensor([2, 0]), 4, 0.1)
    torch.testing.assert_close(t, torch.tensor([[0.025, 0.025, 0.925, 0.025], [0.925, 0.025, 0.025, 0.025]]))
    scores = torch.randn(2, 4)
    ref = torch.nn.functional.cross_entropy(scores, torch.tensor([2, 0]), label_smoothing=0.1)
    torch.testing.assert_close(soft_cross_entropy(scores, t), ref)


def test_mixup_blends_images_and_targets_with_one_lambda():
    mix = Mixup(MixupConfig(mixup_alpha=0.5), num_classes=3, smoothing=0.0, seed=0)
    x = torch.rand(4, 1, 5, 5)
    y = torch.tensor([0, 1, 2, 1])
    xm, t = mix(x, y)
    lam = float(t[0, 0])  # y[0] = 0, y_flip[0] = y[3] = 1
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x.flip(0))
    torch.testing.assert_close(t[0], torch.tensor([lam, 1 - lam, 0.0]))
    draws = [Mixup(MixupConfig(mixup_alpha=0.5), 3, seed=s)._draw()[0] for s in range(3000)]
    assert abs(np.mean(draws) - 0.5) < 0.02 and abs(np.var(draws) - 0.125) < 0.01  # Beta(0.5, 0.5)


def test_cutmix_pastes_a_box_and_corrects_lambda():
    mix = Mixup(MixupConfig(cutmix_alpha=1.0), num_classes=2, seed=3)
    x = torch.zeros(3, 2, 4, 16, 16)  # time-major (T, B, C, H, W)
    x[:, 1] = 1.0
    for _ in range(20):
        xm, t = mix(x, torch.tensor([0, 1]))
        pasted = float(xm[0, 0, 0].sum())  # sample 0 got ones inside the box from sample 1
        assert torch.equal(xm[0], xm[2])  # same box at every step
        torch.testing.assert_close(t[0, 1], torch.tensor(pasted / 256.0))
    top, bottom, left, right = cutmix_box(32, 32, 0.75, np.random.default_rng(0))
    assert bottom - top <= 16 and right - left <= 16 and 0 <= top <= bottom <= 32


def test_switch_probability_and_off_epoch():
    mix = Mixup(MixupConfig(mixup_alpha=1.0, cutmix_alpha=1.0, switch_prob=0.5, prob=0.5, off_epoch=3), 2, seed=1)
    kinds = [mix._draw() for _ in range(4000)]
    mixed = [k for k in kinds if k[0] < 1.0]
    assert 0.45 < len(mixed) / 4000 < 0.55 and 0.45 < np.mean([k[1] for k in mixed]) < 0.55
    mix.start_epoch(2)
    assert mix.active()
    mix.start_epoch(3)
    x = torch.rand(2, 1, 4, 4)
    xm, t = mix(x, torch.tensor([0, 1]))
    assert not mix.active() and torch.equal(xm, x) and torch.equal(t, torch.eye(2))


def test_bad_mixup_config():
    with pytest.raises(ConfigError, match="train.mixup"):
        Mixup(MixupConfig(mixup_alpha=-1.0), 2)


@pytest.mark.slow
def test_trainer_mixes_until_the_off_epoch(tmp_path):
    from snnlab.train import Trainer
    from snnlab.train.config import load_config

    from .conftest import write_recipe

    recipe = write_recipe(
        tmp_path,
        {
            "train": {
                "label_smoothing": 0.1,
                "epochs": 2,
                "mixup": {"mixup_alpha": 0.8, "cutmix_alpha": 1.0, "off_epoch": 1},
            },
            "data": {"name": "digits", "limit_train": 32, "limit_test": 16},
        },
    )
    trainer = Trainer(load_config(recipe, []))
    calls = []
    original = trainer.mixer.__call__
    trainer.mixer.__class__ = type(
        "Counting", (Mixup,), {"__call__": lambda self, x, y: calls.append(self.epoch) or original(x, y)}
    )
    trainer.fit()
    assert calls and set(calls) == {0}  # epoch 0 mixed, epoch 1 (>= off_epoch) not
