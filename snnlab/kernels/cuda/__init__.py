"""numba-cuda backend: fused multi-step kernels on CUDA tensors, used in place.

Runs on a real GPU, or on any machine under ``NUMBA_ENABLE_CUDASIM=1`` (the CUDA simulator;
CI tests it that way).
"""

from __future__ import annotations

import os

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


def _probe() -> str:
    try:
        from numba import cuda
    except ImportError as err:
        return f"numba-cuda is not installed (pip install 'snnlab[cuda]'): {err}"
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return ""  # the simulator compiles nothing
    try:
        if not cuda.is_available():
            return "no CUDA GPU or driver found (set NUMBA_ENABLE_CUDASIM=1 to use the simulator)"
    except Exception as err:  # driver errors surface as various exception types
        return f"CUDA driver error: {err}"
    return numpy_clash()


_WHY_NOT = _probe()


def simulated() -> bool:
    """True when running on the numba CUDA simulator instead of a GPU."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def is_available() -> bool:
    return not _WHY_NOT


def why_not() -> str:
    return _WHY_NOT


if is_available():
    try:
        from snnlab.kernels.cuda import neurons, spike_linear, wkv  # noqa: F401  (registers the kernels)
    except ImportError:
        pass
