"""The readers against tonic (an outside oracle): the same files decode to the same events.

tonic reads N-MNIST ``.bin`` (``tonic.io.read_mnist_file``), SHD/SSC HDF5 (``tonic.datasets.SHD``)
and AEDAT 2.0 DVS128 recordings (``tonic.io.get_aer_events_from_file``, the raw address/timestamp
words that ``read_dvs_128`` decodes). Files are written here in the published formats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import random_recording, random_spikes, write_nmnist_bin, write_shd_h5

tonic = pytest.importorskip("tonic")
pytestmark = pytest.mark.peers


@pytest.mark.parametrize("seed", range(4))
def test_nmnist_equals_tonic(tmp_path, seed):
    from snnlab.data.nmnist import read_nmnist

    rng = np.random.default_rng(seed)
    # times past 2**23 us force overflow markers, which both readers must undo
    path = write_nmnist_bin(
        tmp_path / "s.bin", *random_recording(rng, 400, t_max=9_000_000), overflow_before=[5] if seed % 2 else []
    )
    ours = read_nmnist(path)
    theirs = tonic.io.read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    assert len(ours) == len(theirs) > 0
    for field in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(ours[field].astype(np.int64), theirs[field].astype(np.int64), err_msg=field)


def _tonic_shd(path: Path):
    """tonic's SHD reader on ``path`` without its download step (the item decoding is tonic's own)."""
    ds = object.__new__(tonic.datasets.SHD)
    ds.location_on_system, ds.data_filename = str(path.parent), path.name
    ds.dtype = np.dtype([("t", np.float64), ("x", int), ("p", int)])
    ds.transform = ds.target_transform = None
    return ds


@pytest.mark.parametrize("vlen", [True, False], ids=["ragged", "padded"])
def test_shd_equals_tonic(tmp_path, vlen):
    from snnlab.data import create_dataset

    rng = np.random.default_rng(7)
    n = 6
    spikes = [random_spikes(rng, int(rng.integers(3, 40))) for _ in range(n)]
    for split in ("train", "test"):
        write_shd_h5(
            tmp_path / f"shd_{split}.h5",
            [s[0] for s in spikes],
            [s[1] for s in spikes],
            labels=np.arange(n) % 20,
            speakers=list(range(n)),
            keys=[b"k"] * 20,
            vlen=vlen,
        )
    ours = create_dataset("shd", tmp_path, "train")
    theirs = _tonic_shd(tmp_path / "shd_train.h5")
    for i in range(n):
        ev, label = theirs[i]
        mine = ours.events(i)
        if not vlen:  # tonic keeps the zero padding of the 2-D layout; the file's real spikes come first
            ev = ev[: len(mine)]
            assert not np.any(theirs[i][0]["t"][len(mine) :])
        assert label == ours[i][1]
        np.testing.assert_array_equal(mine["x"], ev["x"])
        np.testing.assert_array_equal(mine["t"], np.round(ev["t"]).astype(np.int64))


def test_dvs128_aedat2_equals_tonic(tmp_path):
    from snnlab.data.aedat import read_aedat2, read_cifar10dvs, write_aedat2

    rng = np.random.default_rng(3)
    n = 500
    x, y, p = rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n)
    t = np.sort(rng.integers(0, 2**31, n))
    path = write_aedat2(tmp_path / "rec.aedat", x, y, p, t)
    version, start, _ = tonic.io.read_aedat_header_from_file(str(path))
    words = tonic.io.get_aer_events_from_file(str(path), version, start)
    addr, stamps = read_aedat2(path)
    np.testing.assert_array_equal(addr, words["address"])
    np.testing.assert_array_equal(stamps, words["timeStamp"])
    # tonic's DVS128 address decoding (read_dvs_128): x = bits 8..14, y = bits 1..7, p = bit 0;
    # read_cifar10dvs orients events as spikingjelly does: x -> 127 - x, y -> 127 - y, p -> 1 - p
    tx, ty, tp = (words["address"] >> 8) & 0x7F, (words["address"] >> 1) & 0x7F, words["address"] & 1
    ev = read_cifar10dvs(path)
    np.testing.assert_array_equal(ev["x"], 127 - tx)
    np.testing.assert_array_equal(ev["y"], 127 - ty)
    np.testing.assert_array_equal(ev["p"], 1 - tp)
    np.testing.assert_array_equal(ev["t"], words["timeStamp"])


def test_from_tonic_and_register_dataset(tmp_path):
    """A tonic dataset (N-MNIST files read by tonic) registered by name trains like a built-in one."""
    from snnlab.data import create_dataset, from_tonic, register_dataset
    from snnlab.data.registry import DATASETS, READERS
    from snnlab.errors import DataError

    rng = np.random.default_rng(0)
    files = [write_nmnist_bin(tmp_path / f"{i}.bin", *random_recording(rng, 60)) for i in range(3)]
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])

    class Files:  # the shape of a tonic dataset: items (events, target), sensor_size, classes, targets
        sensor_size, classes, targets = (34, 34, 2), ["a", "b"], [0, 1, 0]

        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            return tonic.io.read_mnist_file(str(files[i]), dtype=dtype), self.targets[i]

    try:

        @register_dataset("tonic_files", "three N-MNIST files through tonic")
        def tonic_files(root, split, n_time_bins=4):
            return from_tonic(Files(), n_time_bins=n_time_bins)

        ds = create_dataset("tonic_files", None, "train", n_time_bins=5)
        x, y = ds[1]
        assert tuple(x.shape) == (5, 2, 34, 34) and y == 1 and ds.num_classes == 2
        assert float(x.sum()) == 60  # every event lands in a frame
        from snnlab.errors import ConfigError

        with pytest.raises(ConfigError, match="unknown option"):
            create_dataset("tonic_files", None, "train", n_bins=5)
        with pytest.raises(DataError, match="registered twice"):
            register_dataset("shd", "another shd")(tonic_files)
    finally:
        READERS._entries.pop("tonic_files", None)
        DATASETS.pop("tonic_files", None)
