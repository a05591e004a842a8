"""Reading and writing ``.nir`` files (HDF5) over ``nir.write`` / ``nir.read``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import nir

from snnlab.errors import GraphError

PathLike = Union[str, Path]


def save(graph: nir.NIRGraph, path: PathLike) -> Path:
    """Write ``graph`` to ``path`` atomically (temporary file, then rename); returns the path.

    Raises:
        GraphError: when ``graph`` is not a ``nir.NIRGraph`` or NIR cannot serialise a node.
    """
    if not isinstance(graph, nir.NIRGraph):
        raise GraphError(f"save: expected a nir.NIRGraph, got {type(graph).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        nir.write(str(tmp), graph)
        os.replace(tmp, path)
    except (TypeError, ValueError, KeyError) as err:
        raise GraphError(f"{path}: NIR cannot write this graph ({type(err).__name__}: {err})") from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load(path: PathLike) -> nir.NIRGraph:
    """Read a ``.nir`` file.

    Raises:
        FileNotFoundError: no such file.
        GraphError: the file is not a readable NIR graph.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such NIR file", str(path))
    try:
        graph = nir.read(str(path))
    except Exception as err:  # noqa: BLE001 - h5py/nir raise KeyError, OSError, ValueError on bad files
        raise GraphError(f"{path}: not a readable NIR graph ({type(err).__name__}: {err})") from err
    if not isinstance(graph, nir.NIRGraph):
        raise GraphError(f"{path}: holds a single {type(graph).__name__} node, not a NIR graph")
    return graph
