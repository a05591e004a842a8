"""Surrogates: every derivative equals a finite difference of its primitive (float64), and
``torch.autograd.gradcheck`` on the smooth parts of the neuron steps and kernels."""

from __future__ import annotations

import pytest
import torch

from snnlab.functional import neuron as F
from snnlab.functional.surrogate import SURROGATES, ATan, Surrogate
from tests.conftest import backend_params
from tests.cuda_device import dispatch

CLASSES = sorted({cls.__name__: cls for cls in SURROGATES.values()}.items())


def _away_from_kinks(alpha: float) -> torch.Tensor:
    x = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    kinks = torch.tensor([0.0, 1.0 / alpha, -1.0 / alpha, 0.5 / alpha, -0.5 / alpha], dtype=torch.float64)
    return x[(x[:, None] - kinks[None]).abs().min(dim=1).values > 1e-3]


@pytest.mark.parametrize("alpha", (0.7, 2.0, 5.0))
@pytest.mark.parametrize("name,cls", CLASSES)
def test_grad_is_finite_difference_of_primitive(name, cls, alpha):
    sg = cls(alpha)
    x = _away_from_kinks(alpha)
    eps = 1e-6
    fd = (sg.primitive(x + eps) - sg.primitive(x - eps)) / (2 * eps)
    torch.testing.assert_close(sg.grad(x), fd, rtol=1e-6, atol=1e-7)


class _PrimitiveWithSurrogateGrad(torch.autograd.Function):
    """Forward: the smooth primitive; backward: the surrogate's grad (what SpikeFunction uses)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sg: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.sg = sg
        return sg.primitive(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (x,) = ctx.saved_tensors
        return g * ctx.sg.grad(x), None


@pytest.mark.parametrize("name,cls", CLASSES)
def test_gradcheck_surrogate_against_primitive(name, cls):
    x = _away_from_kinks(1.3)[::20].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda t: _PrimitiveWithSurrogateGrad.apply(t, cls(1.3)), (x,))


def test_spike_function_is_heaviside_with_surrogate_backward():
    x = torch.tensor([-1.0, 0.0, 0.5], dtype=torch.float64, requires_grad=True)
    s = ATan(2.0)(x)
    assert s.tolist() == [0.0, 1.0, 1.0]
    s.sum().backward()
    torch.testing.assert_close(x.grad, ATan(2.0).grad(x.detach()))


def test_gradcheck_charge():
    v = torch.randn(5, dtype=torch.float64, requires_grad=True)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    k = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    for decay in (True, False):
        assert torch.autograd.gradcheck(lambda a, b, c: F.lif_charge(a, b, c, 0.1, decay), (v, x, k))


# The numba kernels' gradients equal autograd of the torch reference in tests/kernels (every kind,
# float64); their own gradchecks compile float64 variants for tens of seconds: slow target.
@pytest.mark.parametrize("backend", backend_params(slow=("numba",)))
def test_gradcheck_li_kernel(backend):
    p = F.LIParams(tau=3.0, v_reset=0.2)
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    v0 = torch.randn(4, dtype=torch.float64, requires_grad=True)

    def fn(x, v0):
        out, final, _ = dispatch("neuron.li", backend, x, F.VState(v0), p, None)
        return out, final.v

    assert torch.autograd.gradcheck(fn, (x, v0))


@pytest.mark.parametrize("backend", backend_params(slow=("numba",)))
@pytest.mark.parametrize("decay", (True, False))
def test_gradcheck_plif_kernel_below_threshold(backend, decay):
    """Below threshold with detach_reset the membrane path is smooth: check dv/dx, dv/dv0, dv/dk."""
    p = F.LIFParams(tau=2.0, v_threshold=50.0, decay_input=decay, detach_reset=True)
    x = torch.rand(6, 4, dtype=torch.float64, requires_grad=True)
    v0 = torch.rand(4, dtype=torch.float64, requires_grad=True)
    k = torch.tensor(0.35, dtype=torch.float64, requires_grad=True)

    def fn(x, v0, k):
        _, final, v_seq = dispatch("neuron.lif", backend, x, F.VState(v0), p, ATan(), k=k, return_v=True)
        return v_seq, final.v

    assert torch.autograd.gradcheck(fn, (x, v0, k))
