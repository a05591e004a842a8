"""Neuron modules over the kernels: step modes, reset, torch.compile, autocast, input errors."""

from __future__ import annotations

import pytest
import torch

import snnlab
from snnlab.errors import BackendError, ShapeError
from snnlab.nn import ALIF, IF, LI, LIF, PLIF, CubaLIF, reset


@pytest.fixture
def backend(cpu_backend: str) -> str:
    """Modules resolve their backend for the tensor's device: cuda needs CUDA tensors, so the
    module tests run on the CPU backends (the cuda kernels are run through dispatch elsewhere)."""
    return cpu_backend


MODULES = {
    "if": IF,
    "lif": LIF,
    "plif": PLIF,
    "alif": lambda **kw: ALIF(tau=4.0, tau_adapt=8.0, **kw),
    "cuba_lif": CubaLIF,
    "li": LI,
}


@pytest.mark.parametrize("kind", sorted(MODULES))
def test_multi_step_equals_single_steps(kind, backend):
    x = torch.randn(7, 3, 5, dtype=torch.float64) * 2 + 0.5
    multi = MODULES[kind](backend=backend)(x)
    single = MODULES[kind](backend=backend, step_mode="s")
    steps = torch.stack([single(x[t]) for t in range(x.shape[0])])
    torch.testing.assert_close(steps, multi, rtol=0, atol=1e-12)
    single.reset()
    assert single.state is None
    torch.testing.assert_close(single(x[0]), multi[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["lif", "alif"])
def test_channels_last_sequence_keeps_its_strides(kind, backend):
    from snnlab.nn.neuron import memory_order

    x = torch.randn(3, 2, 4, 5, 6, dtype=torch.float64) * 2 + 0.5  # (T, B, C, H, W)
    cl = x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3).requires_grad_()
    assert memory_order(cl) == [0, 1, 3, 4, 2] and memory_order(x) is None
    assert memory_order(x.transpose(0, 1)) is None and memory_order(x[:, :, :2]) is None
    xc = x.clone().requires_grad_()
    out_cl, out = MODULES[kind](backend=backend)(cl), MODULES[kind](backend=backend)(xc)
    assert out_cl.stride() == cl.stride()
    torch.testing.assert_close(out_cl, out, rtol=0, atol=0)
    g = torch.randn_like(out)
    out_cl.backward(g)
    out.backward(g)
    torch.testing.assert_close(cl.grad, xc.grad, rtol=0, atol=1e-12)


def test_single_step_gradient_flows_through_kept_state(backend):
    lif = PLIF(backend=backend, step_mode="s")
    x = (torch.randn(4, 2, 3, dtype=torch.float64) + 1.0).requires_grad_()
    out = sum(lif(x[t]).sum() for t in range(4))
    out.backward()
    assert x.grad[0].abs().sum() > 0 and lif.w.grad is not None
    reset(lif)
    assert lif.state is None


def test_backends_agree_through_modules_with_grads(backend):
    x = torch.randn(9, 4, 6, dtype=torch.float64) + 0.6
    res = {}
    for name in ("torch", backend):
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(6, 6, dtype=torch.float64), PLIF(backend=name, dtype=torch.float64))
        xi = x.clone().requires_grad_()
        out = m(xi)
        out.sum().backward()
        res[name] = (out.detach(), xi.grad, m[1].w.grad, m[0].weight.grad)
    for a, b in zip(res["torch"], res[backend]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_torch_compile_linear_lif(cpu_backend):
    backend = cpu_backend
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), LIF(backend=backend))
    compiled = torch.compile(model, backend="aot_eager")
    x = torch.randn(5, 2, 8)
    out = compiled(x)
    torch.testing.assert_close(out, model(x))
    out.sum().backward()
    assert model[0].weight.grad is not None


def test_autocast_bfloat16_cpu(cpu_backend):
    backend = cpu_backend
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), LIF(backend=backend))
    x = torch.randn(5, 2, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert torch.isfinite(model[0].weight.grad).all()


def test_non_finite_input_equal_between_backends(backend):
    x = torch.full((4, 1, 3), 0.6, dtype=torch.float64)
    x[1, 0, 0] = float("nan")
    lif = LIF(backend=backend, store_v_seq=True)
    out = lif(x)
    assert out[:, 0, 0].eq(0).all() and torch.isnan(lif.v_seq[1:, 0, 0]).all()
    ref = LIF(backend="torch", store_v_seq=True)
    torch.testing.assert_close(out, ref(x))
    torch.testing.assert_close(lif.v_seq, ref.v_seq, equal_nan=True)
    with pytest.raises(ValueError, match="NaN"):
        LIF(backend=backend, check_finite=True)(x)


def test_bad_inputs():
    lif = LIF(backend="numba")
    with pytest.raises(ShapeError, match="T, B"):
        lif(torch.zeros(3))
    with pytest.raises(ShapeError, match="floating"):
        lif(torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(BackendError, match="cuda"):
        LIF(backend="cuda")(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="tau"):
        LIF(tau=0.0)
    with pytest.raises(ValueError, match="tau_adapt"):
        ALIF(tau_adapt=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        LIF(surrogate=snnlab.surrogate.ATan(alpha=0.0))
    with pytest.raises(ValueError, match="alpha"):
        LIF(surrogate=snnlab.surrogate.Sigmoid(alpha=-2.0))


def test_kernel_rejects_bad_calls_directly():
    from snnlab.functional.neuron import LIFParams, VState
    from snnlab.kernels import dispatch

    sg = snnlab.surrogate.ATan()
    with pytest.raises(ShapeError):
        dispatch("neuron.lif", "numba", torch.zeros(2, 3, 4), VState(torch.zeros(3)), LIFParams(), sg)
    with pytest.raises(ShapeError, match="state.v"):
        dispatch("neuron.lif", "numba", torch.zeros(2, 3), VState(torch.zeros(4)), LIFParams(), sg)
    with pytest.raises(ValueError, match="LIFParams"):
        dispatch("neuron.alif", "numba", torch.zeros(2, 3), VState(torch.zeros(3)), LIFParams(), sg)
