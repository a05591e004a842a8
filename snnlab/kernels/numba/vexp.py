"""A vectorisable ``exp`` of non-positive arguments for the numba kernels.

Without Intel SVML, LLVM leaves every ``math.exp`` of a loop a scalar libm call, which bounds
the WKV scans. :func:`exp_nonpos` evaluates ``e^x`` for a small array at once in loops that
LLVM vectorises: Cody-Waite reduction ``x = n ln2 + r`` with ``|r| <= ln2 / 2``, a degree-12
Taylor polynomial of ``e^r`` (relative error < 3e-16), and ``2^n`` built from the bits of
``n + 1023`` (``n`` read out of the rounding constant ``1.5 * 2^52``). Arguments below
``-700`` give exactly 0 (no denormals).
"""

from __future__ import annotations

import numpy as np
from numba import njit

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
ROUND = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer held in the low bits
ROUND_BITS = np.float64(ROUND).view(np.int64)
FLOOR = -700.0
_FM = {"nsz", "arcp", "contract", "afn"}  # no reassociation: the rounding trick must stay as written


@njit(fastmath=_FM, inline="always")
def _poly(r):  # pragma: no cover - compiled
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    return p * r + 1.0


@njit(fastmath=_FM, inline="always")
def exp_nonpos(x, out, rounded, bits):  # pragma: no cover - compiled
    """``out[:n] = e^{x[:n]}`` for ``x <= 0``; ``rounded`` (float64) and ``bits`` (its int64 view) are scratch."""
    n = x.shape[0]
    for j in range(n):
        rounded[j] = max(x[j], FLOOR) * LOG2E + ROUND
    for j in range(n):
        nf = rounded[j] - ROUND
        xc = max(x[j], FLOOR)
        out[j] = _poly((xc - nf * LN2_HI) - nf * LN2_LO)
    for j in range(n):
        bits[j] = (bits[j] - ROUND_BITS + 1023) << 52
    for j in range(n):
        out[j] = out[j] * rounded[j] if x[j] >= FLOOR else 0.0


@njit(cache=True)
def exp_array(x):  # pragma: no cover - compiled
    """``e^x`` of a 1-D float64 array of non-positive values (for tests)."""
    out, rounded = np.empty_like(x), np.empty_like(x)
    exp_nonpos(x, out, rounded, rounded.view(np.int64))
    return out
