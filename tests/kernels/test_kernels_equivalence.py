"""numba kernels equal the torch reference: spikes, membranes, final state and gradients.

The matrix is kind x dtype x reset mode x decay_input x detach_reset (x surrogate for LIF).
Forward values are compared exactly: the kernels repeat the reference's operations in the same
order and dtype, so float32 ties at the threshold resolve the same way. Kernels are compiled per
(kind, charge mode, reset mode, dtype) and each compilation takes seconds, so the default run
covers float32 (the training dtype) on the diagonal (hard + decay_input, soft + no decay_input:
every reset mode and every charge mode once) and float64 with hard reset + decay_input; the rest
of the matrix is marked slow (`make test-slow`).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from snnlab.functional.surrogate import SURROGATES

from .neuron_cases import KINDS, assert_same, make_inputs, make_params, run

FULL = list(itertools.product((True, False), (True, False)))  # (hard reset, decay_input)
DIAGONAL = [(True, True), (False, False)]
DEFAULT = {("f32", True, True), ("f32", False, False), ("f64", True, True)}  # the rest: slow (compile time)
MATRIX = [
    pytest.param(
        dtype, h, d, id=f"{name}-hard{h:d}-decay{d:d}", marks=() if (name, h, d) in DEFAULT else pytest.mark.slow
    )
    for dtype, name in ((torch.float64, "f64"), (torch.float32, "f32"))
    for h, d in FULL
]


def _check(kind, dtype, hard, decay, detach, surrogate=None, T=12, M=37, seed=0):
    x, state, k = make_inputs(kind, T, M, dtype, seed)
    p = make_params(kind, hard, decay, detach)
    ref = run("torch", kind, x, state, p, surrogate, k)
    res = run("numba", kind, x, state, p, surrogate, k)
    if T * M >= 50:
        assert ref["out"].abs().sum() > 0  # the case exercises spikes / nonzero output
    assert_same(res, ref, dtype)


@pytest.mark.parametrize("detach", (False, True), ids=("attached", "detached"))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype,hard,decay", MATRIX)
def test_numba_matches_torch(kind, dtype, hard, decay, detach):
    if kind in ("if", "cuba_lif") and not decay:
        pytest.skip("no decay_input switch for this kind")
    if kind == "li" and (hard is False or detach):
        pytest.skip("LI does not fire: no reset switches")
    _check(kind, dtype, hard, decay, detach)


@pytest.mark.parametrize("name", sorted(set(SURROGATES) - {"superspike", "piecewise_linear"}))
@pytest.mark.parametrize("kind", ("lif",))
def test_numba_matches_torch_every_surrogate(name, kind):
    # alpha exactly representable in float32: the torch reference rounds Rectangular's slope to float32
    _check(kind, torch.float64, True, True, False, SURROGATES[name](1.5))


def test_alpha_is_an_argument_not_a_recompile():
    from snnlab.kernels.numba import cpu

    _check("lif", torch.float64, True, True, False, SURROGATES["atan"](2.0))
    n = len(cpu._KERNELS)
    _check("lif", torch.float64, True, True, False, SURROGATES["atan"](5.0))
    assert len(cpu._KERNELS) == n


@pytest.mark.parametrize("T,M", [(1, 5), (3, 1), (40, 3000)])
def test_numba_shapes(T, M):
    _check("plif", torch.float32, True, True, False, T=T, M=M)


def test_numba_empty_sequence_keeps_state():
    from snnlab.kernels import dispatch

    x, state, _ = make_inputs("lif", 1, 4, torch.float64)
    x = x[:0]
    out, final, _ = dispatch("neuron.lif", "numba", x, state, make_params("lif"), SURROGATES["atan"]())
    assert out.shape == (0, 4)
    torch.testing.assert_close(final.v, state.v)


def test_half_precision_inputs_run_in_float32():
    x, state, _ = make_inputs("lif", 8, 16, torch.float32)
    from snnlab.kernels import dispatch

    p = make_params("lif")
    ref, _, _ = dispatch("neuron.lif", "numba", x.detach(), state, p, SURROGATES["atan"]())
    xb = x.detach().to(torch.bfloat16).requires_grad_()
    out, final, _ = dispatch(
        "neuron.lif", "numba", xb, type(state)(state.v.to(torch.bfloat16)), p, SURROGATES["atan"]()
    )
    assert out.dtype == torch.bfloat16 and final.v.dtype == torch.bfloat16
    out.sum().backward()
    assert xb.grad is not None and xb.grad.dtype == torch.bfloat16 and torch.isfinite(xb.grad).all()
    assert (out.float() != ref).float().mean() < 0.05  # bfloat16 input rounding may flip a few ties


def test_inference_mode_saves_nothing():
    from snnlab.kernels import dispatch

    x, state, _ = make_inputs("lif", 5, 6, torch.float32)
    with torch.no_grad():
        out, final, v = dispatch("neuron.lif", "numba", x, state, make_params("lif"), SURROGATES["atan"]())
    assert out.grad_fn is None and v is None
