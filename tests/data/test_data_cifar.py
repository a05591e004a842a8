"""CIFAR-10/100 pickle batches: layout, safe unpickling, augmentation, direct encoding."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from snnlab.data import DirectEncode, collate_time_major, create_dataset
from snnlab.data.cifar import MEAN_STD, load_pickle
from snnlab.errors import DataError

from .conftest import write_cifar10, write_cifar100


def test_cifar10_train_test_and_pixels(tmp_path):
    write_cifar10(tmp_path, n_per_batch=4)
    train = create_dataset("cifar10", str(tmp_path), "train", augment=False, normalize=False)
    test = create_dataset("cifar10", str(tmp_path), "test")
    assert (len(train), len(test)) == (20, 4)
    assert train.num_classes == 10 and train.input_shape == (3, 32, 32) and train.timesteps is None
    assert train.classes[0] == "airplane"
    raw = load_pickle(tmp_path / "cifar-10-batches-py" / "data_batch_2")
    x, y = train[5]  # second sample of data_batch_2
    assert y == raw["labels"][1]
    red = raw["data"][1, :1024].reshape(32, 32) / 255.0
    np.testing.assert_allclose(x[0].numpy(), red, rtol=1e-6)
    np.testing.assert_allclose(x[2].numpy(), raw["data"][1, 2048:].reshape(32, 32) / 255.0, rtol=1e-6)


def test_normalisation_uses_dataset_statistics(tmp_path):
    write_cifar10(tmp_path)
    plain = create_dataset("cifar10", str(tmp_path), "test", normalize=False)
    norm = create_dataset("cifar10", str(tmp_path), "test")
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in MEAN_STD["cifar10"])
    torch.testing.assert_close(norm[0][0], (plain[0][0] - mean) / std)


def test_augmentation_crops_and_flips(tmp_path):
    write_cifar10(tmp_path)
    ds = create_dataset("cifar10", str(tmp_path), "train", normalize=False, seed=0)
    plain = create_dataset("cifar10", str(tmp_path), "train", normalize=False, augment=False)
    views = [ds[0][0] for _ in range(8)]
    assert all(v.shape == (3, 32, 32) for v in views)
    assert any(not torch.equal(v, plain[0][0]) for v in views)
    assert any((v == 0).all(dim=0).any() for v in views)  # padding shows as zero rows/columns


def test_cifar100_fine_labels_and_direct_encoding(tmp_path):
    write_cifar100(tmp_path, n=6)
    ds = create_dataset("cifar100", str(tmp_path), "train", timesteps=4)
    raw = load_pickle(tmp_path / "cifar-100-python" / "train")
    assert ds.num_classes == 100 and ds.timesteps == 4 and ds.labels.tolist() == raw["fine_labels"]
    x, _ = ds[0]
    assert tuple(x.shape) == (4, 3, 32, 32) and torch.equal(x[0], x[3])
    xb, yb = ds.collate_fn([ds[i] for i in range(3)])
    assert tuple(xb.shape) == (4, 3, 3, 32, 32) and ds.collate_fn is collate_time_major


def test_static_batches_then_direct_encode(tmp_path):
    write_cifar10(tmp_path)
    ds = create_dataset("cifar10", str(tmp_path), "test")
    xb, yb = ds.collate_fn([ds[i] for i in range(4)])
    assert tuple(xb.shape) == (4, 3, 32, 32) and tuple(yb.shape) == (4,)
    assert tuple(DirectEncode(6)(xb).shape) == (6, 4, 3, 32, 32)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_malicious_pickle_is_refused(tmp_path, capsys):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": _Evil()}, protocol=2))
    with pytest.raises(DataError, match="print.* is not allowed"):
        create_dataset("cifar10", str(tmp_path), "test")
    assert "pwned" not in capsys.readouterr().out


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py/batches.meta.*cifar-10-python.tar.gz"):
        create_dataset("cifar10", str(tmp_path), "train")
    write_cifar10(tmp_path)
    bad = {"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_3: field 'data' must be \(N, 3072\)"):
        create_dataset("cifar10", str(tmp_path), "train")
    with pytest.raises(DataError, match="valid splits"):
        create_dataset("cifar10", str(tmp_path), "dev")
