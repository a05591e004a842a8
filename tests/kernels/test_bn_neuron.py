"""``batch_norm.neuron`` (BatchNorm with batch statistics -> IF/LIF -> dropout mask, fused) equals its reference.

The numba op against the torch composition (``F.batch_norm`` on the ``(T M, C)`` rows, the torch
neuron op, the mask product) in float64: spikes, the gradients of input, BN weight and bias, and
the running statistics; float32 against the float64 reference. ``snnlab.nn.batch_norm_neuron``
on modules (a Linear's ``(T, B, C)`` output and a channels-last ``BatchNorm2d`` map) equals the
modules run one after the other, in training and evaluation.
"""

from __future__ import annotations

import pytest
import torch

from snnlab.functional.neuron import IFParams, LIFParams
from snnlab.functional.surrogate import ATan, Sigmoid
from snnlab.kernels import BatchNormArgs, dispatch
from snnlab.nn import LIF, PLIF, BatchNorm1d, batch_norm_neuron
from snnlab.nn.spike_conv import BatchNorm2d

CASES = {  # kind, params, surrogate, mask, (T, M, C)
    "lif hard detached, mask": ("lif", LIFParams(tau=2.0, detach_reset=True), ATan(alpha=5.0), True, (9, 6, 11)),
    "lif soft decay_state": (
        "lif",
        LIFParams(tau=3.0, v_reset=None, decay_input=False),
        Sigmoid(4.0),
        False,
        (7, 5, 9),
    ),
    "if hard to -0.2, mask": ("if", IFParams(v_reset=-0.2), ATan(alpha=2.0), True, (6, 3, 40)),
}


def _inputs(shape: tuple, dtype: torch.dtype, mask: bool, seed: int = 1) -> tuple:
    T, M, C = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, M, C, generator=g, dtype=torch.float64) * 2 + 0.5
    w, b = torch.randn(C, generator=g, dtype=torch.float64), torch.randn(C, generator=g, dtype=torch.float64) + 1
    m = (torch.rand(M, C, generator=g) < 0.6).double() / 0.6 if mask else None
    g_out = torch.randn(T, M, C, generator=g, dtype=torch.float64)
    return tuple(None if v is None else v.to(dtype) for v in (x, w, b, m, g_out))


def _run(backend: str, case: str, dtype: torch.dtype, steps: int = 2) -> list[torch.Tensor]:
    kind, p, sg, mask, shape = CASES[case]
    rm, rv = torch.zeros(shape[2], dtype=dtype), torch.ones(shape[2], dtype=dtype)
    for step in range(steps):  # running statistics over two steps
        x, w, b, m, g_out = _inputs(shape, dtype, mask, seed=step)
        x, w, b = (v.requires_grad_() for v in (x, w, b))
        out = dispatch("batch_norm.neuron", backend, x, BatchNormArgs(w, b, rm, rv, 0.1, 1e-5), kind, p, sg, m)
        out.backward(g_out)
    return [out.detach(), x.grad, w.grad, b.grad, rm, rv]


@pytest.mark.parametrize("case", list(CASES))
def test_fused_equals_reference_float64(case: str) -> None:
    got, ref = _run("numba", case, torch.float64), _run("torch", case, torch.float64)
    assert 0.05 < float((ref[0] != 0).double().mean()) < 0.95  # both spiking and silent units
    assert torch.equal(got[0], ref[0])  # spikes (times the mask)
    for name, a, r in zip(("dx", "dw", "db", "running_mean", "running_var"), got[1:], ref[1:]):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-12, msg=name)


def test_fused_float32_close_to_float64_reference() -> None:
    case = "lif hard detached, mask"
    got, ref = _run("numba", case, torch.float32, steps=1), _run("torch", case, torch.float64, steps=1)
    assert float(((got[0] != 0) != (ref[0] != 0)).double().mean()) < 0.01  # a spike may flip at threshold
    for a, r in zip(got[2:], ref[2:]):
        assert float((a.double() - r).abs().max()) < 1e-3 * (1 + float(r.abs().max()))


def _modules(C: int, two_d: bool = False, neuron: type = LIF) -> tuple:
    bn = (BatchNorm2d if two_d else BatchNorm1d)(C, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.fill_(1.2)
    leak = {"init_tau": 2.0} if neuron is PLIF else {"tau": 2.0}
    return bn, neuron(**leak, detach_reset=True, surrogate=ATan(alpha=4.0)).double()


def _twin(bn: torch.nn.Module, lif: torch.nn.Module) -> tuple:
    bn2, lif2 = _modules(bn.num_features, isinstance(bn, BatchNorm2d), type(lif))
    bn2.load_state_dict(bn.state_dict())
    lif2.load_state_dict(lif.state_dict())
    return bn2, lif2


def test_module_helper_on_linear_rows_train_and_eval() -> None:
    T, B, C = 8, 4, 10
    bn, lif = _modules(C)
    bn_ref, lif_ref = _twin(bn, lif)
    x, _, _, mask, g_out = _inputs((T, B, C), torch.float64, True)
    for training in (True, False):
        bn.train(training), bn_ref.train(training)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        out = batch_norm_neuron(x1, bn, lif, mask)
        ref = lif_ref(bn_ref(x2.reshape(T * B, C)).reshape(T, B, C)) * mask
        out.backward(g_out), ref.backward(g_out)
        assert torch.equal(out, ref)
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(bn.weight.grad, bn_ref.weight.grad, rtol=1e-10, atol=1e-12)
    for name, buf in bn.state_dict().items():
        torch.testing.assert_close(buf, bn_ref.state_dict()[name], rtol=0, atol=1e-15)
    assert int(bn.num_batches_tracked) == 1


def test_module_helper_on_channels_last_map() -> None:
    """Rows of a channels-last ``(T, B, C, H, W)`` map (M = B H W) against BatchNorm2d and LIF modules."""
    T, B, C, H, W = 5, 2, 6, 3, 4
    bn, lif = _modules(C, two_d=True)
    bn_ref, lif_ref = _twin(bn, lif)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(T, B, H, W, C, generator=g, dtype=torch.float64).permute(0, 1, 4, 2, 3)  # channels-last
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    rows = x1.permute(0, 1, 3, 4, 2).reshape(T, B * H * W, C)  # a view: (T, M, C)
    out = batch_norm_neuron(rows, bn, lif).reshape(T, B, H, W, C).permute(0, 1, 4, 2, 3)
    ref = lif_ref(bn_ref(x2.reshape(T * B, C, H, W)).reshape(T, B, C, H, W))
    g_out = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    out.backward(g_out), ref.backward(g_out)
    assert torch.equal(out, ref) and 0 < float(ref.detach().mean()) < 1
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bn.bias.grad, bn_ref.bias.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bn.running_var, bn_ref.running_var, rtol=0, atol=1e-15)


@pytest.mark.parametrize("variant", ["plif", "hooked", "torch backend"])
def test_module_helper_falls_back_to_the_modules(variant: str) -> None:
    bn, lif = _modules(5, neuron=PLIF if variant == "plif" else LIF)
    if variant == "torch backend":
        lif.backend = "torch"
    seen = []
    if variant == "hooked":
        lif.register_forward_hook(lambda *a: seen.append(1))
    bn_ref, lif_ref = _twin(bn, lif)
    x = _inputs((6, 3, 5), torch.float64, False)[0]
    out = batch_norm_neuron(x, bn, lif)
    assert torch.equal(out, lif_ref(bn_ref(x.reshape(18, 5)).reshape(6, 3, 5)))
    assert seen == ([1] if variant == "hooked" else [])
