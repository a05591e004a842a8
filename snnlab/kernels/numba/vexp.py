"""Vectorisable ``exp`` for the numba kernels: of non-positive arguments, and over the full range.

Without Intel SVML, LLVM leaves every ``math.exp`` of a loop a scalar libm call, which bounds
the WKV scans. :func:`exp_nonpos` is plain arithmetic that LLVM vectorises inside the caller's
loop: Cody-Waite reduction ``x = n ln2 + r`` with ``|r| <= ln2 / 2``, a polynomial of ``e^r``
and ``2^n`` made from the bits of ``n + bias`` (bit casts, :func:`_bits_to_float`). Arguments
are <= 0 only: no overflow handling.

- float32 (the scans of float32 inputs): ``n`` by the add-a-large-constant rounding (whose low
  bits are then ``2^n``'s exponent field: no float-int conversions), a degree-5 polynomial
  evaluated in Estrin form and a one-constant reduction (short dependency chains); relative
  error below 2 ulp for ``x >= -10`` and below 4 ulp wherever the result is a normal float
  (tested); arguments below about ``-87.68`` give exactly 0 (``n = -127``
  makes ``2^n``'s bits 0), the few just above that, subnormal results.
- float64 (gradient checks): degree-12 Taylor polynomial (relative error < 3e-16); arguments
  below ``-700`` give exactly 0.

:func:`exp_full` is ``e^{-|x|}``, or its reciprocal for ``x > 0`` (the surrogate derivatives
of the neuron kernels use it for their ``exp``). Each function is typed by its argument: a float32 scan stays float32 (eight lanes per AVX2
register), a float64 scan stays float64.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

LOG2E, LN2 = 1.4426950408889634, 0.6931471805599453
F64_FLOOR = -700.0  # below: 2^n would be denormal; the result is 0
F32_CLAMP = -88.0  # rounds to n = -127: 2^n's exponent field is 0, so the result is exactly 0
F32_ROUND = 12583039.0  # 1.5 * 2^23 + 127: adding it rounds to an integer and biases the exponent
# e^r ~ 1 + r + r^2 (E2 + E3 r + E4 r^2 + E5 r^3) on |r| <= ln2 / 2: relative-error minimax fit
E2, E3, E4, E5 = 0.499992317757318, 0.16667114573104064, 0.041890115708874166, 0.008312516659682214


@intrinsic
def _bits_to_float(typingctx, bits, like):  # pragma: no cover - typing/codegen hook
    """The float (of ``like``'s type) whose IEEE bits are the low bits of integer ``bits``."""
    if not isinstance(bits, types.Integer) or like not in (types.float32, types.float64):
        return None
    width = 32 if like == types.float32 else 64

    def codegen(context, builder, signature, args):
        val = args[0]
        if bits.bitwidth != width:
            val = (
                builder.trunc(val, ir.IntType(width)) if bits.bitwidth > width else builder.sext(val, ir.IntType(width))
            )
        return builder.bitcast(val, ir.FloatType() if width == 32 else ir.DoubleType())

    return like(bits, like), codegen


@intrinsic
def _float_to_bits(typingctx, x):  # pragma: no cover - typing/codegen hook
    """The IEEE bits of a float32 (float64) as an int32 (int64)."""
    if x not in (types.float32, types.float64):
        return None
    width = 32 if x == types.float32 else 64

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))

    return (types.int32 if width == 32 else types.int64)(x), codegen


@intrinsic
def _fma(typingctx, a, b, c):  # pragma: no cover - typing/codegen hook
    """``a * b + c`` rounded once (``llvm.fma``; vectorises to FMA instructions)."""
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return a(a, b, c), codegen


def exp_nonpos(x):  # pragma: no cover - replaced by the overload below when compiled
    """``e^x`` for ``x <= 0`` (float32 or float64), inlined and vectorisable inside numba loops."""
    raise NotImplementedError("exp_nonpos is only callable from numba-compiled code")


def _exp_f32(x):  # pragma: no cover - compiled
    f = np.float32
    xc = max(x, f(F32_CLAMP))
    t = xc * f(LOG2E) + f(F32_ROUND)  # its low mantissa bits are now n + 127, n = round(x log2 e)
    nf = t - f(F32_ROUND)
    r = _fma(nf, f(-LN2), xc)  # fused: exact but for ln 2's own rounding (|n| * 2e-9); |r| <= ln2 / 2
    r2 = r * r
    q = (f(E2) + f(E3) * r) + r2 * (f(E4) + f(E5) * r)  # Estrin: a short dependency chain
    p = (r2 * q + r) + f(1.0)
    scale = _bits_to_float(_float_to_bits(t) << np.int32(23), xc)  # 2^n
    return p * scale  # scale = 0 for n = -127 (x < -87.68): no compare needed


def _exp_f64(x):  # pragma: no cover - compiled
    xc = max(x, F64_FLOOR)
    n = np.int64(0.5 - xc * LOG2E)
    nf = -float(n)
    r = (xc - nf * 6.93147180369123816490e-01) - nf * 1.90821492927058770002e-10
    p = 1.0 / 479001600.0  # 1 / 12!, then down to 1 / 0!
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
    p = p * r + 1.0
    scale = _bits_to_float((np.int64(1023) - n) << np.int64(52), xc)
    return p * scale * np.float64(x >= F64_FLOOR)


@overload(exp_nonpos, inline="always")
def _exp_nonpos_overload(x):  # pragma: no cover - typing hook
    if x == types.float32:
        return _exp_f32
    if x == types.float64:
        return _exp_f64
    return None


def exp_full(x):  # pragma: no cover - replaced by the overload below when compiled
    """``e^x`` for any float32 or float64 ``x`` (overflow gives inf), inlined and vectorisable."""
    raise NotImplementedError("exp_full is only callable from numba-compiled code")


def _exp_full(x):  # pragma: no cover - compiled
    e = exp_nonpos(min(x, -x))  # e^{-|x|}
    return e if x <= 0 else 1 / e  # a select of both sides: stays vectorised


@overload(exp_full, inline="always")
def _exp_full_overload(x):  # pragma: no cover - typing hook
    if x in (types.float32, types.float64):
        return _exp_full
    return None


@njit(cache=True, error_model="numpy")  # as the kernels: 1 / 0 gives inf instead of raising
def exp_full_array(x):  # pragma: no cover - compiled
    """``e^x`` of a 1-D float32 or float64 array (for tests)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exp_full(x[i])
    return out


@njit(cache=True)
def exp_array(x):  # pragma: no cover - compiled
    """``e^x`` of a 1-D float32 or float64 array of non-positive values (for tests)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exp_nonpos(x[i])
    return out
