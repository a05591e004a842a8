"""The WKV reference: the O(T^2) definition, gradients, long sequences and large keys."""

from __future__ import annotations

import pytest
import torch

from snnlab.errors import ShapeError
from snnlab.functional import initial_wkv_state, wkv, wkv_step


def make_wkv_inputs(B=2, T=6, C=5, dtype=torch.float64, k_scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = -torch.exp(torch.randn(C, generator=g, dtype=dtype))
    u = torch.randn(C, generator=g, dtype=dtype)
    k = torch.randn(B, T, C, generator=g, dtype=dtype) * k_scale
    v = torch.randn(B, T, C, generator=g, dtype=dtype)
    return w, u, k, v


def brute_force(w, u, k, v):
    """The definition, term by term: O(T^2)."""
    B, T, C = k.shape
    out = torch.empty_like(k)
    for t in range(T):
        i = torch.arange(t, dtype=k.dtype)
        decay = torch.exp((t - 1 - i)[None, :, None] * w + k[:, :t])  # (B, t, C)
        bonus = torch.exp(u + k[:, t])
        out[:, t] = ((decay * v[:, :t]).sum(1) + bonus * v[:, t]) / (decay.sum(1) + bonus)
    return out


def test_reference_equals_definition():
    w, u, k, v = make_wkv_inputs(T=9)
    torch.testing.assert_close(wkv(w, u, k, v), brute_force(w, u, k, v), rtol=1e-12, atol=1e-12)


def test_gradients_equal_definition_and_gradcheck():
    w, u, k, v = (t.requires_grad_() for t in make_wkv_inputs(B=1, T=5, C=3))
    assert torch.autograd.gradcheck(wkv, (w, u, k, v))
    g = torch.randn(1, 5, 3, dtype=torch.float64)
    ours = torch.autograd.grad(wkv(w, u, k, v), (w, u, k, v), g)
    ref = torch.autograd.grad(brute_force(w, u, k, v), (w, u, k, v), g)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_step_is_the_recurrent_form():
    w, u, k, v = make_wkv_inputs(T=7)
    state = initial_wkv_state(k[:, 0])
    steps = []
    for t in range(k.shape[1]):
        y, state = wkv_step(w, u, k[:, t], v[:, t], state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), wkv(w, u, k, v), rtol=0, atol=0)


@pytest.mark.parametrize("k_scale", (60.0, 600.0))
def test_large_keys_stay_finite_and_bounded(k_scale):
    w, u, k, v = make_wkv_inputs(T=32, k_scale=k_scale, dtype=torch.float32)
    y = wkv(w, u, k, v)
    assert torch.isfinite(y).all()
    # a convex combination of the values seen so far
    assert (y <= v.cummax(1).values + 1e-5).all() and (y >= v.cummin(1).values - 1e-5).all()


def test_long_sequence_finite():
    w, u, k, v = make_wkv_inputs(B=1, T=4096, C=4, dtype=torch.float32, k_scale=5.0)
    assert torch.isfinite(wkv(w, u, k, v)).all()


def test_empty_sequence_and_half_precision():
    w, u, k, v = make_wkv_inputs(T=0)
    assert wkv(w, u, k, v).shape == (2, 0, 5)
    w, u, k, v = make_wkv_inputs(T=4, dtype=torch.float32)
    half = wkv(w.half(), u.half(), k.half(), v.half())
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), wkv(w, u, k, v), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("shapes", [((2, 3), (4,), (4,)), ((1, 3, 4), (3,), (4,)), ((1, 3, 4), (4,), (5,))])
def test_bad_shapes_raise(shapes):
    ks, ws, us = shapes
    with pytest.raises(ShapeError, match="wkv: expected"):
        wkv(torch.zeros(ws), torch.zeros(us), torch.zeros(ks), torch.zeros(ks))
