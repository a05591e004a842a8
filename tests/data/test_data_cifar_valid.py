"""CIFAR's validation split: a fixed tenth of the training images, held out of training on request."""

from __future__ import annotations

import numpy as np

from snnlab.data import create_dataset
from snnlab.data.cifar import valid_mask

from .conftest import write_cifar10


def test_valid_split_is_fixed_disjoint_and_held_out(tmp_path):
    write_cifar10(tmp_path, n_per_batch=8)  # 40 training images
    full = create_dataset("cifar10", str(tmp_path), "train", augment=False, normalize=False)
    valid = create_dataset("cifar10", str(tmp_path), "valid", normalize=False)
    fit = create_dataset("cifar10", str(tmp_path), "train", augment=False, normalize=False, holdout_valid=True)
    assert (len(full), len(valid), len(fit)) == (40, 4, 36)
    assert full.contains_valid and not fit.contains_valid and not valid.contains_valid
    mask = valid_mask(40)
    assert np.array_equal(mask, valid_mask(40)) and mask.sum() == 4
    held = {full.images[i].numpy().tobytes() for i in np.nonzero(mask)[0]}
    assert {valid.images[i].numpy().tobytes() for i in range(4)} == held
    assert held.isdisjoint(fit.images[i].numpy().tobytes() for i in range(36))
