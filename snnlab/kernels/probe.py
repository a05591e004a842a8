"""Cheap availability of the built-in backends, answered without importing them.

``snnlab info`` (and ``availability(name, probe=False)``) asks here: whether a backend's libraries
are installed (``importlib.util.find_spec``, which reads no module) and, for ``cuda``, whether the
CUDA driver sees a GPU (asked of ``libcuda`` through ctypes: no torch, no numba). Importing numba,
numba-cuda and the kernel modules (which pull in ``torch._dynamo``) takes seconds, so that full
probe runs once, cached, when a kernel is actually needed (:func:`snnlab.kernels.registry._load`).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from typing import Callable

_DRIVER_NAMES = {"win32": ("nvcuda.dll",), "darwin": ()}.get(sys.platform, ("libcuda.so.1", "libcuda.so"))
SIMULATOR_HINT = "set NUMBA_ENABLE_CUDASIM=1 to use the simulator"


def installed(module: str) -> bool:
    """Whether ``module`` can be found on the path (nothing is imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import, or a broken spec
        return False


def cuda_devices() -> list[str] | None:
    """Names of the GPUs the CUDA driver sees; ``None`` when no driver library loads."""
    lib = None
    for name in _DRIVER_NAMES:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return None
    count = ctypes.c_int(0)
    if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return []  # a driver without a usable device (CUDA_ERROR_NO_DEVICE and the like)
    names = []
    for ordinal in range(count.value):
        device, buf = ctypes.c_int(0), ctypes.create_string_buffer(256)
        ok = lib.cuDeviceGet(ctypes.byref(device), ordinal) == 0
        ok = ok and lib.cuDeviceGetName(buf, len(buf), device) == 0
        names.append(buf.value.decode(errors="replace") if ok else f"device {ordinal}")
    return names


def _torch() -> str:
    return "" if installed("torch") else "torch is not installed"


def _numba() -> str:
    return "" if installed("numba") else "numba is not installed (pip install numba)"


def _cuda() -> str:
    if not installed("numba_cuda"):
        return "numba-cuda is not installed (pip install 'snnlab[cuda]')"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return ""
    try:
        gpus = cuda_devices()
    except Exception as err:  # noqa: BLE001 - a driver that misbehaves is a reason, not a crash
        return f"CUDA driver error: {err}"
    if gpus is None:
        return f"no CUDA driver found ({SIMULATOR_HINT})"
    return "" if gpus else f"no CUDA GPU found ({SIMULATOR_HINT})"


QUICK: dict[str, Callable[[], str]] = {"torch": _torch, "numba": _numba, "cuda": _cuda}


def quick_why_not(backend: str) -> str | None:
    """Why ``backend`` cannot run, from what is installed ("" when it can); None: no cheap answer."""
    check = QUICK.get(backend)
    return None if check is None else check()
