"""``snnlab.nn.BatchNorm1d`` (op ``batch_norm.rows``) equals ``torch.nn.BatchNorm1d`` in training mode.

Outputs, running statistics (momentum and cumulative), ``num_batches_tracked`` and the gradients
of input, weight and bias; float64 to 1e-10; float32 at least as accurate as torch's float32
(against the float64 result). Evaluation mode and
3-D inputs take torch's own path.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnlab.nn import BatchNorm1d


def _pair(C: int, dtype: torch.dtype, backend: str, **kw) -> tuple[nn.Module, nn.Module]:
    ref = nn.BatchNorm1d(C, dtype=dtype, **kw)
    ours = BatchNorm1d(C, dtype=dtype, backend=backend, **kw)
    g = torch.Generator().manual_seed(3)
    if ref.affine:
        with torch.no_grad():
            for p in (ref.weight, ref.bias):
                p.copy_(torch.randn(C, generator=g, dtype=dtype))
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def _run(bn: nn.Module, x: torch.Tensor, gy: torch.Tensor) -> list:
    x = x.clone().requires_grad_()
    y = bn(x)
    y.backward(gy)
    grads = [p.grad for p in bn.parameters()]
    return [y.detach(), x.grad, *grads]


CASES = {  # M, C, input scale, offset, kwargs
    "T*B rows": (300, 37, 2.0, 1.5, {}),
    "large offset": (64, 8, 0.1, 100.0, {}),
    "two rows": (2, 5, 1.0, 0.0, {}),
    "cumulative average": (50, 6, 1.0, -2.0, {"momentum": None}),
    "no affine": (40, 7, 3.0, 0.5, {"affine": False}),
}


def _max_errors(got: list, truth: list) -> list[float]:
    return [float((a.double() - b).abs().max()) for a, b in zip(got, truth)]


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_training_step_matches_torch_float64(case: str, backend: str) -> None:
    M, C, scale, offset, kw = CASES[case]
    ref, ours = _pair(C, torch.float64, backend, **kw)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):  # running statistics over several steps
        x = torch.randn(M, C, generator=g, dtype=torch.float64) * scale + offset
        gy = torch.randn(M, C, generator=g, dtype=torch.float64)
        for a, b in zip(_run(ours, x, gy), _run(ref, x, gy)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
        for name, buf in ref.named_buffers():
            torch.testing.assert_close(dict(ours.named_buffers())[name], buf, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_float32_is_as_accurate_as_torch(case: str) -> None:
    """float32 against the float64 result: within 2e-4, or at most twice torch's own float32 error."""
    M, C, scale, offset, kw = CASES[case]
    truth_bn, _ = _pair(C, torch.float64, "torch", **kw)
    ref, ours = _pair(C, torch.float32, "numba", **kw)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = torch.randn(M, C, generator=g, dtype=torch.float64) * scale + offset
        gy = torch.randn(M, C, generator=g, dtype=torch.float64)
        truth = _run(truth_bn, x, gy)
        errs_ref = _max_errors(_run(ref, x.float(), gy.float()), truth)
        errs = _max_errors(_run(ours, x.float(), gy.float()), truth)
        assert all(e <= max(2e-4, 2 * r) for e, r in zip(errs, errs_ref)), (errs, errs_ref)
        buffers = dict(ours.named_buffers())
        for name, buf in truth_bn.named_buffers():
            torch.testing.assert_close(buffers[name].double(), buf.double(), rtol=1e-5, atol=1e-5)


def test_non_contiguous_input_and_no_weight_grad() -> None:
    ref, ours = _pair(16, torch.float64, "numba")
    ours.weight.requires_grad_(False)
    ref.weight.requires_grad_(False)
    x = torch.randn(16, 40, dtype=torch.float64).t()  # (40, 16) strided
    gy = torch.randn(40, 16, dtype=torch.float64)
    for a, b in zip(_run(ours, x, gy), _run(ref, x, gy)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", [(30, 6), (4, 6, 5)])
def test_eval_mode_and_3d_inputs_take_torch_path(shape: tuple) -> None:
    ref, ours = _pair(6, torch.float32, "numba")
    x = torch.randn(*shape)
    ref.train(len(shape) == 3)
    ours.train(len(shape) == 3)
    torch.testing.assert_close(ours(x), ref(x))


def test_one_row_raises_as_torch() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(4, backend="numba")(torch.randn(1, 4))


def test_bad_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="backend must be"):
        BatchNorm1d(4, backend="gpu")
