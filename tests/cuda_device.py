"""The ``cuda``-marked tests on a real GPU as well as under the CUDA simulator.

Under ``NUMBA_ENABLE_CUDASIM=1`` the numba-cuda kernels accept CPU tensors (the simulator runs
them on host arrays), so the tests build CPU tensors. On a machine with a GPU the same tests run
with ``make test-gpu``: :func:`dispatch` here moves every tensor argument of a ``cuda`` call to
the GPU and its outputs back with differentiable copies, so forward and backward both run in the
GPU kernels while the test's leaves, losses and references stay on the CPU. Other backends pass
through untouched.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

import torch

from snnlab.kernels import dispatch as _dispatch


@functools.cache
def real_gpu() -> bool:
    """True on a machine whose CUDA GPU both torch and numba-cuda can use (never under the simulator)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not torch.cuda.is_available():
        return False
    from snnlab.kernels import cuda as backend

    return backend.is_available()


def move(obj: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``fn`` applied to every tensor in ``obj`` (tensors, named tuples, tuples, lists, dicts)."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(move(o, fn) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(move(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: move(v, fn) for k, v in obj.items()}
    return obj


def dispatch(op: str, backend: str, *args: Any, **kw: Any) -> Any:
    """``snnlab.kernels.dispatch``; a ``cuda`` call on a real GPU runs on GPU copies of its tensors."""
    if backend != "cuda" or not real_gpu():
        return _dispatch(op, backend, *args, **kw)
    out = _dispatch(op, backend, *move(args, lambda t: t.cuda()), **move(kw, lambda t: t.cuda()))
    return move(out, lambda t: t.cpu())
