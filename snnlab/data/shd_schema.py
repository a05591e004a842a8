"""The SHD/SSC HDF5 schema, checked before any sample is read: every fault is one DataError.

``labels`` must be a 1-D integer dataset with ids in ``0..num_classes-1``; ``spikes/times`` and
``spikes/units`` 1-D datasets (ragged, or 2-D padded) with one row per label, of float times and
integer channels; ``extra/speaker`` (optional) a 1-D integer dataset of the same length.
"""

from __future__ import annotations

import h5py
import numpy as np

from snnlab.errors import DataError


def _base_kind(ds: h5py.Dataset) -> str:
    """The numpy kind of the elements: of the vlen base type for ragged datasets."""
    base = h5py.check_vlen_dtype(ds.dtype)
    if base is str or base is bytes:
        return "U"
    return (np.dtype(base) if base is not None else ds.dtype).kind


def _dataset(f: h5py.File, key: str, where: str) -> h5py.Dataset:
    if key not in f:
        raise DataError(f"{where}: no '{key}' dataset; valid SHD/SSC files hold spikes/times, spikes/units and labels")
    node = f[key]
    if not isinstance(node, h5py.Dataset):
        raise DataError(
            f"{where}: '{key}' is a {type(node).__name__}, not a dataset; valid: an array with one entry per sample"
        )
    return node


def _vector(f: h5py.File, key: str, where: str, n: int | None, kinds: str, what: str) -> np.ndarray:
    """A 1-D dataset of ``n`` numbers of numpy kind in ``kinds`` (``n`` None: any length)."""
    ds = _dataset(f, key, where)
    if ds.ndim != 1:
        raise DataError(f"{where}: '{key}' has shape {ds.shape}; valid: a 1-D array of {what}, one per sample")
    if _base_kind(ds) not in kinds:
        raise DataError(f"{where}: '{key}' holds {ds.dtype} values; valid: {what} (integers)")
    if n is not None and ds.shape[0] != n:
        raise DataError(
            f"{where}: '{key}' has {ds.shape[0]} entries but the file has {n} labels; valid: one per sample"
        )
    return np.asarray(ds[()]).astype(np.int64)


def check_layout(f: h5py.File, where: str, num_classes: int) -> np.ndarray:
    """Validate the file's schema; returns the labels (N,) as int64.

    Raises:
        DataError: naming the file, the dataset and what is valid.
    """
    labels = _vector(f, "labels", where, None, "iu", f"class ids 0..{num_classes - 1}")
    bad = np.nonzero((labels < 0) | (labels >= num_classes))[0]
    if bad.size:
        raise DataError(
            f"{where}: label {labels[bad[0]]} at sample {bad[0]} ({bad.size} out of range); valid: class "
            f"ids 0..{num_classes - 1}"
        )
    for key, kinds, what in (
        ("spikes/times", "f", "float spike times in seconds"),
        ("spikes/units", "iu", "integer channel ids"),
    ):
        ds = _dataset(f, key, where)
        ragged = h5py.check_vlen_dtype(ds.dtype) is not None
        if _base_kind(ds) not in kinds:
            raise DataError(f"{where}: '{key}' holds {ds.dtype} values; valid: {what}")
        if ds.ndim != (1 if ragged else 2):
            raise DataError(
                f"{where}: '{key}' has shape {ds.shape}; valid: one row per sample (a ragged 1-D "
                "dataset or a padded 2-D array)"
            )
        if ds.shape[0] != labels.size:
            raise DataError(
                f"{where}: '{key}' has {ds.shape[0]} rows but there are {labels.size} labels; valid: one row per sample"
            )
    return labels
