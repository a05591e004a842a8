"""Zero-shot LSM-CLIP: contrastive loss, retrieval accuracy, recipe checks, the scan encoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnlab.apps.lsm.recipe import zeroshot_from_dict
from snnlab.apps.lsm.zeroshot import clip_loss, retrieval_accuracy, scan_events
from snnlab.errors import ConfigError


def test_clip_loss_by_hand():
    eye = torch.eye(2)
    assert float(clip_loss(eye, eye, 1.0)) == pytest.approx(math.log(1 + math.exp(-1)))
    assert float(clip_loss(eye, eye.flip(0), 1.0)) == pytest.approx(math.log(1 + math.exp(1)))
    assert float(clip_loss(3 * eye, eye, 0.1)) < 1e-3  # scale-free, sharp at low temperature


def test_retrieval_accuracy_on_hand_made_embeddings():
    emb_a = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
    y_a = torch.tensor([8, 8, 9, 9])
    emb_b = torch.tensor([[1.0, 0.2], [0.3, 1.0], [0.9, 0.1], [1.0, 0.5], [5.0, 5.0]])
    y_b = torch.tensor([8, 9, 9, 8, 1])  # the third is wrong; class 1 is not scored
    assert retrieval_accuracy(emb_a, y_a, emb_b, y_b, [8, 9]) == pytest.approx(0.75)
    with pytest.raises(ConfigError, match=r"\[7\]"):
        retrieval_accuracy(emb_a, y_a, emb_b, y_b, [8, 7])


def test_zeroshot_recipe_checks():
    recipe = zeroshot_from_dict({"epochs": 2, "hardware": "rram_40nm", "image_lsm": {"const": 0.3}}, "z.yaml")
    assert recipe.epochs == 2 and recipe.image_lsm == {"const": 0.3}
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epoch'\]; valid: name, seen"):
        zeroshot_from_dict({"epoch": 2}, "z.yaml")
    with pytest.raises(ConfigError, match="disjoint"):
        zeroshot_from_dict({"seen": [1, 2, 8], "unseen": [8, 9]}, "z.yaml")
    with pytest.raises(ConfigError, match="scan_lsm: unknown"):
        zeroshot_from_dict({"scan_lsm": {"tau": 2}}, "z.yaml")


def test_scan_events_follow_intensity():
    images = np.zeros((2, 8, 8))
    images[0, :, 0] = 16.0  # left column lit
    x = scan_events(images, size=16, steps_per_row=4, seed=0)
    assert x.shape == (64, 2, 16) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert x[:, 0, :2].mean() > 0.7 and x[:, 0, 2:].sum() == 0 and x[:, 1].sum() == 0


def test_per_sample_retrieval_by_hand():
    emb_a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7], [5.0, 0.1]])
    y_a = torch.tensor([8, 9, 9, 1])  # class 1 is outside the gallery
    emb_b = torch.tensor([[1.0, 0.1], [0.6, 0.8], [0.1, 1.0]])
    y_b = torch.tensor([8, 8, 9])  # nearest samples: 8 (hit), the 9 at (0.7, 0.7) (miss), 9 (hit)
    assert retrieval_accuracy(emb_a, y_a, emb_b, y_b, [8, 9], mode="sample") == pytest.approx(2 / 3)
    assert retrieval_accuracy(emb_a, y_a, emb_b, y_b, [8, 9], mode="prototype") == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="valid: prototype, sample"):
        retrieval_accuracy(emb_a, y_a, emb_b, y_b, [8, 9], mode="nearest")


def test_retrieval_defaults_to_the_papers_per_sample_rule():
    assert zeroshot_from_dict({}, "z.yaml").retrieval == "sample"
    with pytest.raises(ConfigError, match=r"z\.yaml: retrieval: 'nearest' is not valid; valid: sample, prototype"):
        zeroshot_from_dict({"retrieval": "nearest"}, "z.yaml")
