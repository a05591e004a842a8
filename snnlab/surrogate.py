"""Surrogate spike functions (``snnlab.surrogate.ATan(alpha=2.0)``); defined in :mod:`snnlab.functional.surrogate`."""

from snnlab.functional.surrogate import (  # noqa: F401
    SURROGATES,
    ATan,
    FastSigmoid,
    PiecewiseLinear,
    Rectangular,
    Sigmoid,
    SuperSpike,
    Surrogate,
    Triangle,
    get_surrogate,
)
