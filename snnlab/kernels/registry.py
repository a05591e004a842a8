"""Backend registry: ``(op, backend) -> kernel``, and ``get_backend("auto")``.

Backends live in ``snnlab/kernels/<backend>/`` (``torch_ref.py`` for the reference), each with
``is_available() -> bool`` and ``why_not() -> str`` evaluated at import time, and register their
kernels with :func:`register`. Model code never imports a backend: it calls :func:`dispatch`.
A backend is imported on first need; :func:`availability` with ``probe=False`` answers without
importing it (:mod:`snnlab.kernels.probe`), so ``snnlab info`` stays fast.

``auto`` picks ``cuda`` for CUDA tensors and ``numba`` for CPU tensors when those can run (and
implement the op), else ``torch``, and logs the fallback once. An explicit backend that cannot
run raises :class:`snnlab.errors.BackendError`.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from snnlab.errors import BackendError
from snnlab.registry import Registry

_MODULES = {"torch": "snnlab.kernels.torch_ref", "numba": "snnlab.kernels.numba", "cuda": "snnlab.kernels.cuda"}
BACKENDS: tuple[str, ...] = tuple(_MODULES)  # the built-in kernel backends
KERNELS: Registry[Callable[..., Any]] = Registry("kernel", BackendError)  # (op, backend) -> kernel
_LOADED: dict[str, Any] = {}
_WARNED: set[tuple[str, str]] = set()
log = logging.getLogger("snnlab.kernels")


def add_backend(name: str, module: str) -> None:
    """Declare a backend package (with ``is_available()`` and ``why_not()``) that is not built in.

    The simulator's engines use this to share the registry with the kernels.
    """
    if _MODULES.setdefault(name, module) != module:
        raise ValueError(f"backend {name!r} is already declared by {_MODULES[name]}")


def backends() -> tuple[str, ...]:
    """Every declared backend: the built-in kernel backends and those added by :func:`add_backend`."""
    return tuple(_MODULES)


def register(op: str, backend: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as the kernel of ``op`` on ``backend``."""
    if backend not in _MODULES:
        raise ValueError(f"unknown backend {backend!r}; valid: {tuple(_MODULES)}")

    return KERNELS.register((op, backend), replace=True)


def _load(backend: str) -> Any:
    """Import a backend package once (its kernels register themselves)."""
    if backend not in _LOADED:
        try:
            _LOADED[backend] = importlib.import_module(_MODULES[backend])
        except ImportError as err:  # a broken optional dependency
            _LOADED[backend] = err
    return _LOADED[backend]


def availability(backend: str, probe: bool = True) -> tuple[bool, str]:
    """``(can run here, reason if not)`` for a backend.

    ``probe=True`` imports the backend (its libraries and kernels, once; what running a kernel
    needs). ``probe=False`` answers from :mod:`snnlab.kernels.probe` without importing it (libraries
    installed, a GPU seen by the CUDA driver), unless it is already imported: ``snnlab info`` uses it.
    """
    if backend not in _MODULES:
        raise BackendError(f"unknown backend {backend!r}; valid: auto, {', '.join(_MODULES)}")
    if not probe and backend not in _LOADED:
        from snnlab.kernels.probe import quick_why_not

        why = quick_why_not(backend)
        if why is not None:
            return not why, why
    module = _load(backend)
    if isinstance(module, Exception):
        return False, f"import failed: {module}"
    ok = bool(module.is_available())
    return ok, "" if ok else module.why_not()


def has_kernel(op: str, backend: str) -> bool:
    """Whether ``op`` is implemented on ``backend`` (loads the backend)."""
    _load(backend)
    return (op, backend) in KERNELS


def _warn_once(key: tuple[str, str], msg: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        log.info(msg)


def get_backend(name: str = "auto", tensor: Any = None, op: str | None = None) -> str:
    """Resolve a backend name for a tensor's device (and, for ``auto``, for an op).

    ``tensor`` (a torch tensor or None) is only asked ``is_cuda``: the registry imports no torch,
    so torch-free engines (the simulator's) register here too.
    """
    on_cuda = bool(getattr(tensor, "is_cuda", False))
    if name == "auto":
        preferred = "cuda" if on_cuda else "numba"
        ok, why = availability(preferred)
        if ok and (op is None or has_kernel(op, preferred)):
            return preferred
        reason = why or f"no {preferred} kernel for {op!r}"
        _warn_once((preferred, op or ""), f"backend auto: {preferred} unavailable ({reason}); using torch")
        return "torch"
    ok, why = availability(name)
    if not ok:
        raise BackendError(f"backend {name!r} cannot run here: {why}")
    if name == "cuda" and tensor is not None and not on_cuda:
        raise BackendError("backend 'cuda' needs CUDA tensors; got a CPU tensor (use backend='numba' or 'auto')")
    if name == "numba" and on_cuda:
        raise BackendError("backend 'numba' runs on CPU tensors; got a CUDA tensor (use backend='cuda' or 'auto')")
    if op is not None and not has_kernel(op, name):
        raise BackendError(f"backend {name!r} has no kernel for {op!r}")
    return name


def dispatch(op: str, backend: str, *args: Any, **kwargs: Any) -> Any:
    """Call the kernel of ``op`` on an already resolved ``backend``."""
    _load(backend)
    fn = KERNELS.find((op, backend))
    if fn is None:
        raise BackendError(f"backend {backend!r} has no kernel for {op!r}")
    return fn(*args, **kwargs)


# numba-cuda releases up to this one register an overload of ``np.row_stack``, which numpy 2.5
# removed: they import, but compiling any kernel fails with "module 'numpy' has no attribute
# 'row_stack'" (seen with numba-cuda 0.30.4 and numpy 2.5.2 on a GPU machine, 2026-12-04).
NUMPY_CLASH_UPTO = (0, 30, 4)


def numpy_clash() -> str:
    """Why this numba-cuda cannot compile beside this numpy, or ``""``."""
    import numpy as np

    if hasattr(np, "row_stack"):
        return ""
    from importlib import metadata

    try:
        version = metadata.version("numba-cuda")
    except metadata.PackageNotFoundError:
        return ""
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    if parts and parts <= NUMPY_CLASH_UPTO:
        return (
            f"numba-cuda {version} cannot compile kernels beside numpy {np.__version__} (numpy 2.5 removed "
            "np.row_stack, which it registers): install numpy<2.5 or a newer numba-cuda"
        )
    return ""
