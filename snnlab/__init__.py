"""snnlab: train spiking networks, simulate them event-driven, cost and export them.

Subpackages are imported lazily so that ``import snnlab`` stays fast; ``snnlab.nn``,
``snnlab.functional`` and ``snnlab.surrogate`` are the training core.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# THP_MEM_ALLOC_ENABLE (torch's huge pages for large CPU tensors) is deliberately left to the user:
# with it every large tensor of a training step became a fresh 2 MB-aligned mapping, faulted in
# and zero-filled again each step, which made the SHD step's time heavy-tailed with fresh inputs
# (p90 1.2-1.9x the median, single steps 3x; benchmarks/README.md, "Whole training steps").
# torch and numba each run an OpenMP thread pool; by default their idle threads spin and take
# the cores from each other's work (a SHD training step on 2 cores: 2.3-2.7x slower,
# benchmarks/README.md). Passive waiting makes idle threads sleep; set before torch is imported,
# user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_SUBMODULES = (
    "analysis",
    "commands",
    "data",
    "errors",
    "functional",
    "hw",
    "inference",
    "ir",
    "kernels",
    "models",
    "nn",
    "sim",
    "surrogate",
    "train",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"snnlab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'snnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))
