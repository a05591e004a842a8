"""Numba (CPU) backend: fused multi-step kernels parallel over batch x neurons.

Availability is decided at import time; kernels register themselves with the registry when
their modules are imported below.
"""

from __future__ import annotations

try:
    import numba  # noqa: F401

    _WHY_NOT = ""
except ImportError as err:  # pragma: no cover - numba is a core dependency
    _WHY_NOT = f"numba is not importable ({err})"


def is_available() -> bool:
    return not _WHY_NOT


def why_not() -> str:
    return _WHY_NOT


if is_available():
    try:
        from snnlab.kernels.numba import (  # noqa: F401  (register the kernels)
            batch_norm,
            bit_conv,
            bn_neuron,
            delay,
            max_pool,
            neurons,
            spike_conv,
            spike_linear,
            wkv,
        )
    except ImportError:
        pass
