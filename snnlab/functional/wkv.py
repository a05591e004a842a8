"""The WKV operator of RWKV / SpikeGPT, once, as a numerically stable scan in torch.

For each batch row and channel ``c`` (``w = -exp(time_decay) < 0``, ``u = time_first``)::

    wkv_t = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t)
          / (sum_{i<t} e^{(t-1-i) w + k_i}       + e^{u + k_t})

The sums are carried as ``(a, b, p)``: numerator and denominator scaled by ``e^{-p}``, where
``p = max_{i<t} ((t-1-i) w + k_i)`` is the largest exponent seen so far, so no exponential of a
positive number is ever taken. One step of the scan (:func:`wkv_step`) is also the recurrent
(one token at a time) form of the operator used by generation.

This reference is differentiated by autograd; the fused kernels in ``snnlab.kernels`` (numba,
numba-cuda) are tested equal to it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from snnlab.errors import ShapeError

NEG_INF = -1e38  # "no history yet": e^{NEG_INF - p} is 0 for every finite p


class WKVState(NamedTuple):
    """Recurrent state of the scan, each ``(B, C)``: scaled numerator, denominator, exponent."""

    a: torch.Tensor
    b: torch.Tensor
    p: torch.Tensor


def initial_wkv_state(like: torch.Tensor) -> WKVState:
    """The empty history for inputs shaped like ``like`` (..., C) -> (B, C) state tensors."""
    zeros = torch.zeros_like(like)
    return WKVState(zeros, zeros.clone(), torch.full_like(like, NEG_INF))


def wkv_step(
    w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor, state: WKVState
) -> tuple[torch.Tensor, WKVState]:
    """One token: ``k, v (B, C)``, state ``(B, C)`` each -> ``(wkv (B, C), next state)``."""
    a, b, p = state
    q = torch.maximum(p, u + k)  # exponent of the output's sums
    e1, e2 = torch.exp(p - q), torch.exp(u + k - q)
    y = (e1 * a + e2 * v) / (e1 * b + e2)
    decayed = w + p
    p_next = torch.maximum(decayed, k)  # exponent of the history after this token
    e1, e2 = torch.exp(decayed - p_next), torch.exp(k - p_next)
    return y, WKVState(e1 * a + e2 * v, e1 * b + e2, p_next)


def check_wkv_args(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """Shapes: ``k, v (B, T, C)`` equal, ``w, u (C,)``; floating point."""
    if k.dim() != 3 or k.shape != v.shape or w.shape != (k.shape[2],) or u.shape != w.shape:
        raise ShapeError(
            f"wkv: expected k, v (B, T, C) and w, u (C,); got k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}, w {tuple(w.shape)}, u {tuple(u.shape)}"
        )
    if not all(t.is_floating_point() for t in (w, u, k, v)):
        raise ShapeError("wkv: w, u, k, v must be floating point")


def wkv(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The WKV operator (reference): ``k, v (B, T, C)``, ``w, u (C,)`` -> ``(B, T, C)``.

    Computed in float32 at least (float16/bfloat16 inputs are upcast, the result cast back).

    Args:
        w: per-channel decay, ``-exp(time_decay)`` (negative).
        u: per-channel bonus of the current token, ``time_first``.
        k: keys.
        v: values.
    """
    check_wkv_args(w, u, k, v)
    out_dtype = torch.promote_types(k.dtype, v.dtype)
    if k.shape[1] == 0:
        return k.new_zeros(k.shape, dtype=out_dtype)
    dtype = torch.promote_types(out_dtype, torch.float32)
    w, u, k, v = (t.to(dtype) for t in (w, u, k, v))
    state = initial_wkv_state(k[:, 0])
    out = []
    for k_t, v_t in zip(k.unbind(1), v.unbind(1)):  # unbind: autograd does not zero-fill per index
        y, state = wkv_step(w, u, k_t, v_t, state)
        out.append(y)
    return torch.stack(out, dim=1).to(out_dtype)  # (B, T, C)
