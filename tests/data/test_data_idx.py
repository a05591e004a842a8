"""IDX reader (MNIST / Fashion-MNIST): format, splits, items, the registry entries."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from snnlab.data import collate_static, collate_time_major, create_dataset
from snnlab.data.idx import DEBIAN_FASHION_MNIST, read_idx, valid_indices, write_idx
from snnlab.errors import DataError


def write_idx_set(root, n_train=40, n_test=12, gz=True, seed=0):
    """The four standard files with random 28x28 images and labels 0..9 (every class present)."""
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    data = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        write_idx(root / f"{part}-images-idx3-ubyte{suffix}", images)
        write_idx(root / f"{part}-labels-idx1-ubyte{suffix}", labels)
        data[part] = (images, labels)
    return data


def test_header_parsed_by_hand(tmp_path):
    # magic 0x00000803: uint8, 3 dims; sizes 2, 3, 4 big-endian; then 24 bytes
    body = bytes(range(24))
    (tmp_path / "a").write_bytes(struct.pack(">BBBB3I", 0, 0, 8, 3, 2, 3, 4) + body)
    arr = read_idx(tmp_path / "a")
    assert arr.dtype == np.uint8 and arr.shape == (2, 3, 4) and arr[1, 2, 3] == 23
    # int32 and float32 are big-endian on disk
    (tmp_path / "b").write_bytes(struct.pack(">BBBBI", 0, 0, 0x0C, 1, 2) + struct.pack(">ii", -5, 70000))
    assert read_idx(tmp_path / "b").tolist() == [-5, 70000]
    (tmp_path / "c.gz").write_bytes(gzip.compress(struct.pack(">BBBBI", 0, 0, 0x0D, 1, 1) + struct.pack(">f", 1.5)))
    assert read_idx(tmp_path / "c.gz").tolist() == [1.5]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_write_read_round_trip(tmp_path, dtype):
    arr = (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
    for name in ("x", "x.gz"):
        back = read_idx(write_idx(tmp_path / name, arr))
        assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


def test_splits_items_and_registry(tmp_path):
    data = write_idx_set(tmp_path, gz=False)
    train = create_dataset("fashion_mnist", str(tmp_path), "train")
    test = create_dataset("mnist", str(tmp_path), "test")
    assert (len(train), len(test)) == (40, 12) and train.num_classes == 10 and train.input_shape == (1, 28, 28)
    x, y = train[3]
    assert x.dtype == torch.float32 and tuple(x.shape) == (1, 28, 28) and y == data["train"][1][3]
    np.testing.assert_allclose(x[0].numpy(), data["train"][0][3] / 255.0, rtol=1e-6)
    assert train.classes[9] == "Ankle boot" and test.classes[9] == "9"
    xb, yb = train.collate_fn([train[i] for i in range(5)])
    assert train.collate_fn is collate_static and tuple(xb.shape) == (5, 1, 28, 28) and yb.dtype == torch.int64


def test_valid_is_fixed_balanced_and_held_out(tmp_path):
    write_idx_set(tmp_path, n_train=100)
    valid = create_dataset("fashion_mnist", str(tmp_path), "valid", valid_size=20)
    fit = create_dataset("fashion_mnist", str(tmp_path), "train", valid_size=20, holdout_valid=True)
    full = create_dataset("fashion_mnist", str(tmp_path), "train")
    assert len(valid) == 20 and len(fit) == 80 and full.contains_valid and not fit.contains_valid
    assert np.bincount(valid.labels).tolist() == [2] * 10
    assert not set(valid.indices) & set(fit.indices)
    again = create_dataset("fashion_mnist", str(tmp_path), "valid", valid_size=20)
    assert np.array_equal(valid.indices, again.indices)
    assert len(valid_indices(np.arange(23) % 10, 7)) == 7


def test_timesteps_normalise_and_augment(tmp_path):
    write_idx_set(tmp_path)
    ds = create_dataset("fashion_mnist", str(tmp_path), "test", timesteps=4, normalize=True)
    x, _ = ds[0]
    assert tuple(x.shape) == (4, 1, 28, 28) and torch.equal(x[0], x[3]) and ds.collate_fn is collate_time_major
    plain = create_dataset("fashion_mnist", str(tmp_path), "test")[0][0]
    torch.testing.assert_close(x[0], (plain - 0.2860) / 0.3530)
    aug = create_dataset("fashion_mnist", str(tmp_path), "train", augment=True, padding=2, seed=0)
    ref = create_dataset("fashion_mnist", str(tmp_path), "train")[0][0]
    views = [aug[0][0] for _ in range(8)]
    assert all(tuple(v.shape) == (1, 28, 28) for v in views) and any(not torch.equal(v, ref) for v in views)


def test_missing_files_and_mnist_without_root(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        create_dataset("fashion_mnist", str(tmp_path), "train")
    with pytest.raises(DataError, match="mnist needs data.root"):
        create_dataset("mnist", None, "train")


@pytest.mark.skipif(
    not (__import__("pathlib").Path(DEBIAN_FASHION_MNIST) / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed (make data)",
)
def test_debian_package_files():
    test = create_dataset("fashion_mnist", None, "test")
    assert len(test) == 10_000 and np.bincount(test.labels).tolist() == [1000] * 10
