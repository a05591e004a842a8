"""Factories for the neuron-kernel tests: parameters per kind, inputs, one run with gradients."""

from __future__ import annotations

from typing import Optional

import torch

from snnlab.functional import KINDS as RECORDS
from snnlab.functional import neuron as F
from snnlab.functional.surrogate import ATan, Surrogate
from tests.cuda_device import dispatch

KINDS = (*RECORDS, "plif")  # every registered kind, and PLIF (the lif op with a learnable leak)


def op_kind(kind: str) -> str:
    """PLIF runs the ``lif`` op with a learnable ``k``."""
    return "lif" if kind == "plif" else kind


def make_params(kind: str, hard: bool = True, decay: bool = True, detach: bool = False) -> F.NeuronParams:
    """Parameters of ``kind`` with the given reset mode, decay_input and detach_reset."""
    v_reset = -0.1 if hard else None
    if kind == "if":
        return F.IFParams(v_threshold=1.0, v_reset=v_reset, detach_reset=detach)
    if kind in ("lif", "plif"):
        return F.LIFParams(tau=3.0, v_threshold=0.9, v_reset=v_reset, decay_input=decay, detach_reset=detach)
    if kind == "alif":
        return F.ALIFParams(
            tau=4.0, tau_adapt=6.0, beta=0.3, v_threshold=0.8, v_reset=v_reset, decay_input=decay, detach_reset=detach
        )
    if kind == "cuba_lif":
        return F.CubaLIFParams(
            tau_syn=2.0,
            tau_mem=3.0,
            r=1.5,
            v_leak=0.05,
            w_in=1.2,
            v_threshold=0.6,
            v_reset=v_reset,
            detach_reset=detach,
        )
    return F.LIParams(tau=3.0, v_reset=0.1, decay_input=decay)


def make_inputs(kind: str, T: int, M: int, dtype: torch.dtype, seed: int = 0) -> tuple:
    """``(x (T, M), initial state, k or None)``, all leaves requiring grad; ~30% of steps spike."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, M, generator=g, dtype=torch.float64) * 1.2 + 0.5).to(dtype).requires_grad_()
    p = make_params(kind)
    state = F.initial_state(op_kind(kind), p, x[0].detach())
    state = type(state)(*(s + 0.2 * torch.rand(M, generator=g, dtype=torch.float64).to(dtype) for s in state))
    state = type(state)(*(s.detach().requires_grad_() for s in state))
    k = torch.tensor(0.4, dtype=dtype, requires_grad=True) if kind == "plif" else None
    return x, state, k


def run(
    backend: str,
    kind: str,
    x: torch.Tensor,
    state: tuple,
    p: F.NeuronParams,
    surrogate: Optional[Surrogate] = None,
    k: Optional[torch.Tensor] = None,
    seed: int = 1,
) -> dict:
    """One forward and backward; the loss weights out, v_seq and the final state at random."""
    surrogate = ATan(2.0) if surrogate is None else surrogate
    out, final, v_seq = dispatch(
        f"neuron.{op_kind(kind)}", backend, x, state, p, None if kind == "li" else surrogate, k=k, return_v=True
    )
    g = torch.Generator().manual_seed(seed)
    w = [torch.rand(t.shape, generator=g, dtype=torch.float64).to(x.dtype) for t in (out, v_seq, *final)]
    loss = sum((wi * t).sum() for wi, t in zip(w, (out, v_seq, *final)))
    leaves = [x, *state] + ([k] if k is not None else [])
    grads = torch.autograd.grad(loss, leaves)
    return {
        "out": out.detach(),
        "v_seq": v_seq.detach(),
        "final": [s.detach() for s in final],
        "grads": [gr.detach() for gr in grads],
    }


def tolerances(dtype: torch.dtype) -> dict:
    """Absolute/relative tolerances scaled to the dtype's precision."""
    eps = torch.finfo(dtype).eps
    return {"rtol": 2000 * eps, "atol": 2000 * eps}


def assert_same(res: dict, ref: dict, dtype: torch.dtype, exact_forward: bool = True) -> None:
    """Spikes (and membranes, when exact) equal; gradients within dtype-scaled tolerances.

    On a real GPU the forward pass is compared within tolerance: NVVM contracts ``a * b + c`` into
    fused multiply-adds, which round once where torch's CPU reference rounds twice (1 ulp apart).
    """
    from tests.cuda_device import real_gpu

    exact_forward = exact_forward and not real_gpu()
    tol = tolerances(dtype)
    if exact_forward:
        torch.testing.assert_close(res["out"], ref["out"], rtol=0, atol=0)
        torch.testing.assert_close(res["v_seq"], ref["v_seq"], rtol=0, atol=0, equal_nan=True)
    else:
        torch.testing.assert_close(res["out"], ref["out"], **tol)
        torch.testing.assert_close(res["v_seq"], ref["v_seq"], **tol)
    for a, b in zip(res["final"], ref["final"]):
        torch.testing.assert_close(a, b, **tol)
    for i, (a, b) in enumerate(zip(res["grads"], ref["grads"])):
        scale = max(1.0, float(b.abs().max()))
        torch.testing.assert_close(a, b, rtol=tol["rtol"], atol=tol["atol"] * scale, msg=lambda m: f"grad {i}: {m}")
