"""Bad input of the Max-Former area (IDX files, model sizes, augmentations, DVS files): one-line errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from snnlab.data.idx import read_idx, write_idx
from snnlab.errors import DataError


def _u8(dims, n_body):
    return struct.pack(f">BBBB{len(dims)}I", 0, 0, 8, len(dims), *dims) + bytes(n_body)


IDX_CASES = {
    "wrong magic (third byte)": (b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"ab", "not an IDX file"),
    "wrong magic (first byte)": (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab", "magic 01000801"),
    "shorter than a magic": (b"\x00\x00", "not an IDX file"),
    "truncated header": (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated IDX header"),
    "truncated body": (_u8((10, 28, 28), 100), "truncated IDX file"),
    "empty file": (b"", "not an IDX file"),
    "text file": (b"hello world\n", "not an IDX file"),
    "truncated gzip": (gzip.compress(_u8((4, 4), 16))[:-12], "gzip"),
}


@pytest.mark.parametrize("case", sorted(IDX_CASES))
def test_bad_idx_file(tmp_path, case):
    payload, match = IDX_CASES[case]
    path = tmp_path / ("bad.gz" if case == "truncated gzip" else "bad")
    path.write_bytes(payload)
    with pytest.raises(DataError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def _write_set(root, images, labels):
    for part in ("train", "t10k"):
        write_idx(root / f"{part}-images-idx3-ubyte", images)
        write_idx(root / f"{part}-labels-idx1-ubyte", labels)


DATASET_CASES = {
    "label count differs": (np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.uint8), "labels must be"),
    "label out of range": (np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 10], np.uint8), "label 10"),
    "images not 3-d": (np.zeros((4, 784), np.uint8), np.zeros(4, np.uint8), "images must be"),
    "images not uint8": (np.zeros((4, 28, 28), np.float32), np.zeros(4, np.uint8), "images must be"),
}


@pytest.mark.parametrize("case", sorted(DATASET_CASES))
def test_bad_idx_dataset(tmp_path, case):
    from snnlab.data import create_dataset

    images, labels, match = DATASET_CASES[case]
    _write_set(tmp_path, images, labels)
    with pytest.raises(DataError, match=match):
        create_dataset("fashion_mnist", str(tmp_path), "test")


@pytest.mark.parametrize(
    "options, match",
    [
        ({"valid_size": 0}, "valid_size"),
        ({"valid_size": 99, "split": "valid"}, "valid_size"),
        ({"split": "validation"}, "valid splits"),
    ],
)
def test_bad_idx_options(tmp_path, options, match):
    from snnlab.data import create_dataset
    from snnlab.errors import SnnlabError

    _write_set(tmp_path, np.zeros((20, 28, 28), np.uint8), (np.arange(20) % 10).astype(np.uint8))
    options = {"split": "train", **options}
    with pytest.raises(SnnlabError, match=match):
        create_dataset("fashion_mnist", str(tmp_path), **options)


def test_unwritable_dtype(tmp_path):
    with pytest.raises(DataError, match="no IDX type code"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint32))


MODEL_CASES = {
    "image size the stages cannot halve": ("maxformer_cifar", {"img_size": 30}, "img_size 30 cannot be halved"),
    "image smaller than the strides": ("maxformer_10_384", {"img_size": 8}, "multiple of 16"),
    "dvs image not a multiple of 16": ("maxformer_dvs", {"img_size": 120}, "img_size 120"),
    "heads do not divide the dimension": ("maxformer_cifar", {"heads": [8, 8, 7]}, "num_heads 7 must divide dim 384"),
    "zero heads": ("maxformer_cifar", {"heads": [8, 8, 0]}, "num_heads 0"),
    "stage lists of different lengths": ("maxformer", {"dims": [8, 16], "depths": [1, 1, 1]}, "one entry per stage"),
    "unknown mixer": ("maxformer", {"mixers": ["identity", "dwc3", "softmax"]}, "unknown token mixer 'softmax'"),
    "even depth-wise kernel": ("maxformer", {"mixers": ["identity", "dwc4", "ssa"]}, "kernel_size must be odd"),
    "unknown stem": ("maxformer", {"stem": "vit"}, "unknown stem 'vit'"),
    "resnet image size": ("max_resnet18", {"img_size": 18}, "img_size 18 cannot be halved"),
    "resnet uneven lists": ("max_resnet18", {"layers": [1, 1], "widths": [8, 16, 32]}, "one length"),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_sizes(case):
    import torch

    from snnlab.errors import ConfigError
    from snnlab.models import create_model

    name, cfg, match = MODEL_CASES[case]
    with torch.device("meta"), pytest.raises(ConfigError, match=match) as err:
        create_model(name, **cfg)
    assert "\n" not in str(err.value)


def test_wrong_input_shape_names_the_expected_one():
    import torch

    from snnlab.errors import ShapeError
    from snnlab.models import create_model

    model = create_model("maxformer", dims=[8, 16], depths=[1, 1], mixers=["dwc3", "ssa"], heads=[2, 2], img_size=8)
    with pytest.raises(ShapeError, match=r"expected \(B, 3, 8, 8\)"):
        model(torch.zeros(2, 3, 16, 16))


AEDAT_CASES = {
    "aedat2 without magic": ("read_aedat2", b"#!AER-DAT3.1\r\n" + bytes(8), "not an AEDAT 2.0 file"),
    "aedat2 truncated event": ("read_aedat2", b"#!AER-DAT2.0\r\n" + bytes(12), "truncated AEDAT 2.0 body"),
    "aedat31 without magic": ("read_aedat31", b"#!AER-DAT2.0\r\n#!END-HEADER\r\n", "not an AEDAT 3.1 file"),
    "aedat31 without end of header": ("read_aedat31", b"#!AER-DAT3.1\r\n#Format: RAW\r\n", "END-HEADER"),
    "aedat31 truncated packet header": (
        "read_aedat31",
        b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + bytes(10),
        "truncated AEDAT 3.1 packet header",
    ),
    "aedat31 packet past the end": (
        "read_aedat31",
        b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, 100, 100, 100) + bytes(16),
        "truncated AEDAT 3.1 packet",
    ),
    "aedat31 odd polarity event size": (
        "read_aedat31",
        b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + struct.pack("<hhiiiiii", 1, 1, 6, 4, 0, 2, 2, 2) + bytes(12),
        "must be 8 bytes",
    ),
}


@pytest.mark.parametrize("case", sorted(AEDAT_CASES))
def test_bad_aedat_file(tmp_path, case):
    from snnlab.data import aedat

    reader, payload, match = AEDAT_CASES[case]
    path = tmp_path / "rec.aedat"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=match) as err:
        getattr(aedat, reader)(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "row, match", [("12,0,10", "class must be 1..11"), ("3,50,10", "end > start"), ("a,b,c", "integers")]
)
def test_bad_gesture_labels(tmp_path, row, match):
    from snnlab.data.dvs import read_gesture_labels

    path = tmp_path / "user01_led_labels.csv"
    path.write_text("class,startTime_usec,endTime_usec\n" + row + "\n")
    with pytest.raises(DataError, match=match):
        read_gesture_labels(path)


@pytest.mark.parametrize("name", ["cifar10dvs", "dvs128_gesture"])
def test_dvs_missing_folders(tmp_path, name):
    from snnlab.data import create_dataset

    with pytest.raises(DataError, match="needs data.root"):
        create_dataset(name, None, "train")
    with pytest.raises(DataError, match=str(tmp_path)):
        create_dataset(name, str(tmp_path), "train")


SPIKE_CONV_CASES = {
    "max_density above 1": (dict(max_density=1.5), "max_density must be in"),
    "negative max_density": (dict(max_density=-0.1), "max_density must be in"),
    "unknown backend": (dict(backend="blas"), "backend must be auto"),
}


@pytest.mark.parametrize("case", list(SPIKE_CONV_CASES))
def test_spike_conv_rejects_bad_options(case):
    from snnlab.errors import ConfigError
    from snnlab.nn.spike_conv import BatchNorm2d, MaxPool2d, SpikeConv2d

    kw, message = SPIKE_CONV_CASES[case]
    with pytest.raises(ConfigError, match=message):
        SpikeConv2d(4, 4, 1, **kw)
    with pytest.raises(ConfigError, match=message):
        SpikeConv2d(4, 4, 3, padding=1, **kw)  # the 3x3 case (conv2d.spikes)
    if "backend" in kw:
        with pytest.raises(ConfigError, match=message):
            BatchNorm2d(4, **kw)
        with pytest.raises(ConfigError, match=message):
            MaxPool2d(3, 2, 1, **kw)
