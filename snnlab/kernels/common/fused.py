"""The fused multi-step neuron op, shared by the numba (CPU) and numba-cuda backends.

A backend supplies a :class:`Launcher` that runs one forward and one backward kernel over a
``(T, M)`` sequence (one pass over time, state in registers). This module turns a neuron call
``(x_seq, state, params, surrogate, k, return_v)`` into those launches: it packs the params
dataclass into the scalar tuple of :mod:`snnlab.kernels.common.equations`, allocates outputs from
:mod:`snnlab.kernels.pool` and wraps both passes in :class:`FusedNeuronFunction` for autograd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from snnlab.errors import ShapeError
from snnlab.functional.neuron import KINDS, NeuronParams
from snnlab.functional.surrogate import Surrogate
from snnlab.kernels import pool
from snnlab.kernels.common import equations as eq

_NP_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


class Launcher(Protocol):
    """Backend hooks: both take torch tensors (outputs preallocated) and fill them in place.

    ``backward`` receives ``g_out`` with whatever strides autograd produced (the gradient of
    ``out.sum()`` is a stride-0 broadcast) and lays it out as its kernel needs."""

    def compute_dtype(self, dtype: torch.dtype) -> torch.dtype: ...

    def forward(
        self,
        plan: Plan,
        x: torch.Tensor,
        a0: torch.Tensor,
        b0: torch.Tensor,
        out: torch.Tensor,
        v_seq: torch.Tensor,
        keep_a: torch.Tensor,
        keep_b: torch.Tensor,
        a_T: torch.Tensor,
        b_T: torch.Tensor,
    ) -> None: ...

    def backward(
        self,
        plan: Plan,
        flags: tuple,
        g_out: torch.Tensor,
        g_v: torch.Tensor,
        ga_T: torch.Tensor,
        gb_T: torch.Tensor,
        keep_a: torch.Tensor,
        keep_b: torch.Tensor,
        a0: torch.Tensor,
        g_x: torch.Tensor,
        ga0: torch.Tensor,
        gb0: torch.Tensor,
    ) -> float: ...


@dataclass(frozen=True)
class Plan:
    """Everything a launch needs besides the tensors."""

    kind: str
    family: eq.Family
    P: tuple  # scalar parameters in the compute dtype, indexed by equations.K, V_TH, ...
    F: tuple  # int switches, indexed by equations.MODE, HARD, ...
    surrogate: Optional[Surrogate]
    launcher: Any

    @property
    def n_saved(self) -> int:
        return self.F[eq.SAVE]


def _charge_mode(p: NeuronParams) -> int:
    """IF charge without a ``tau`` (CubaLIF has its own charge and ignores the mode)."""
    if not hasattr(p, "tau"):
        return eq.IF_CHARGE
    return eq.DECAY_INPUT if p.decay_input else eq.DECAY_STATE


def pack_params(kind: str, p: NeuronParams, k: Optional[float], dtype: torch.dtype) -> tuple:
    """The scalar tuple ``P`` in the compute dtype (values rounded as torch rounds Python scalars)."""
    vals = [0.0] * eq.N_PARAMS
    v_reset = getattr(p, "v_reset", 0.0)
    vals[eq.V_RESET] = 0.0 if v_reset is None else float(v_reset)
    vals[eq.V_REST] = vals[eq.V_RESET]
    vals[eq.V_TH] = float(getattr(p, "v_threshold", 0.0))
    vals[eq.ONE] = 1.0
    vals[eq.SG_RESET] = 0.0 if getattr(p, "detach_reset", False) else 1.0
    family = KINDS.get(kind).family
    if hasattr(p, "tau"):
        vals[eq.K] = 1.0 / p.tau if k is None else k
    if family == "alif":
        vals[eq.BETA], vals[eq.DECAY_A] = float(p.beta), 1.0 - 1.0 / p.tau_adapt
    if family == "cuba":
        vals[eq.TAU_SYN], vals[eq.TAU_MEM], vals[eq.R] = float(p.tau_syn), float(p.tau_mem), float(p.r)
        vals[eq.V_LEAK], vals[eq.W_IN] = float(p.v_leak), float(p.w_in)
    np_dtype = _NP_DTYPES[dtype]
    return tuple(np_dtype(v) for v in vals)


def pack_flags(kind: str, p: NeuronParams, save: bool, return_v: bool) -> tuple:
    """The switch tuple ``F`` (backward-only switches HAS_GV and NEED_K start at 0)."""
    spiking = KINDS.get(kind).spiking
    flags = [0] * eq.N_FLAGS
    flags[eq.MODE] = _charge_mode(p)
    flags[eq.HARD] = int(spiking and p.v_reset is not None)
    flags[eq.SPIKING] = int(spiking)
    flags[eq.SAVE] = eq.family_of(kind).n_saved if (save and spiking) else 0
    flags[eq.RET_V] = int(return_v)
    return tuple(flags)


def _empty(shape: tuple, like: torch.Tensor) -> torch.Tensor:
    """Uninitialised output; large CPU outputs come from the reusable buffer pool (:mod:`snnlab.kernels.pool`)."""
    return pool.empty(shape, like.dtype, like.device)


def run_forward(plan: Plan, x: torch.Tensor, a0: torch.Tensor, b0: torch.Tensor) -> tuple:
    """Allocate outputs and launch the forward kernel; returns ``(out, a_T, b_T, v_seq, keep_a, keep_b)``."""
    T, M = x.shape
    dummy = _empty((1, 1), x)
    out = _empty((T, M), x)
    v_seq = _empty((T, M), x) if plan.F[eq.RET_V] else dummy
    keep_a = _empty((T, M), x) if plan.n_saved >= 1 else dummy
    keep_b = _empty((T, M), x) if plan.n_saved >= 2 else dummy
    a_T, b_T = _empty((M,), x), _empty((M,), x)
    plan.launcher.forward(plan, x, a0, b0, out, v_seq, keep_a, keep_b, a_T, b_T)
    return out, a_T, b_T, (v_seq if plan.F[eq.RET_V] else None), keep_a, keep_b


class FusedNeuronFunction(torch.autograd.Function):
    """Fused forward and backward (BPTT) of one neuron layer over a ``(T, M)`` sequence.

    Forward saves only what backward cannot recompute; backward runs time in reverse with the
    state gradients in registers, recomputing spikes, surrogate slopes and (for PLIF's ``dL/dk``)
    the post-reset ``v[t-1]`` from the saved ``h``. Bytes per neuron-step for dtype size ``b``:

    | kind | forward writes (training) | of which saved | backward reads | backward writes |
    |---|---|---|---|---|
    | if, lif, plif | out, h: 2b (+ reads x: b) | h: b | grad_out, h: 2b | grad_x: b |
    | alif | out, h, theta: 3b | h, theta: 2b | grad_out, h, theta: 3b | grad_x: b |
    | cuba_lif | out, h: 2b | h: b | grad_out, h: 2b | grad_x: b |
    | li | out: b | nothing | grad_out: b | grad_x: b |

    So LIF moves 3b + 3b = 24 bytes per neuron-step in float32 (the floor of the op); a
    returned ``v_seq`` adds b forward (and b backward when it receives a gradient). The initial
    state is saved (O(M)) for PLIF's ``dL/dk`` at ``t = 0``. On CPU a broadcast ``grad_out``
    (of ``out.sum()`` or ``out.mean(0)``) is read compactly, so backward then reads b less; the
    ``(T, M)`` outputs come from :mod:`snnlab.kernels.pool` (reused between steps).
    """

    @staticmethod
    def forward(
        ctx: Any, plan: Plan, x: torch.Tensor, k: Optional[torch.Tensor], a0: torch.Tensor, b0: torch.Tensor
    ) -> tuple:
        out, a_T, b_T, v_seq, keep_a, keep_b = run_forward(plan, x, a0, b0)
        ctx.plan, ctx.shape = plan, tuple(x.shape)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(keep_a, keep_b, a0)
        return out, a_T, b_T, v_seq

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any,
        g_out: Optional[torch.Tensor],
        g_aT: Optional[torch.Tensor],
        g_bT: Optional[torch.Tensor],
        g_v: Optional[torch.Tensor],
    ) -> tuple:
        plan: Plan = ctx.plan
        keep_a, keep_b, a0 = ctx.saved_tensors
        T, M = ctx.shape
        zeros = pool.zeros((M,), a0.dtype, a0.device)  # read-only
        g_out = zeros.expand(T, M) if g_out is None else g_out.to(a0.dtype)  # laid out by the launcher
        flags = list(plan.F)
        flags[eq.HAS_GV] = int(g_v is not None)
        flags[eq.NEED_K] = int(bool(ctx.needs_input_grad[2]) and KINDS.get(plan.kind).learnable_leak)
        g_v = g_v.to(a0.dtype).contiguous() if g_v is not None else _empty((1, 1), a0)
        g_x, ga0, gb0 = _empty((T, M), a0), _empty((M,), a0), _empty((M,), a0)
        gk = plan.launcher.backward(
            plan,
            tuple(flags),
            g_out,
            g_v,
            zeros if g_aT is None else g_aT.contiguous(),
            zeros if g_bT is None else g_bT.contiguous(),
            keep_a,
            keep_b,
            a0,
            g_x,
            ga0,
            gb0,
        )
        # a float from the CPU launchers, a device scalar from cuda's (no host sync)
        g_k = torch.as_tensor(gk, dtype=a0.dtype, device=a0.device) if flags[eq.NEED_K] else None
        return (None, g_x, g_k, ga0 if ctx.needs_input_grad[3] else None, gb0 if ctx.needs_input_grad[4] else None)


def _validate(kind: str, x: torch.Tensor, state: tuple, p: NeuronParams, surrogate: Optional[Surrogate]) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ShapeError(f"neuron.{kind}: x_seq must be a (T, M) tensor, got {got}")
    if not x.is_floating_point():
        raise ShapeError(f"neuron.{kind}: x_seq must be floating point, got {x.dtype}")
    record = KINDS.get(kind)
    if not isinstance(p, record.params):
        raise ValueError(f"neuron.{kind}: params must be {record.params.__name__}, got {type(p).__name__}")
    for name, value in zip(type(state)._fields, state):
        if tuple(value.shape) != (x.shape[1],):
            raise ShapeError(f"neuron.{kind}: state.{name} must have shape ({x.shape[1]},), got {tuple(value.shape)}")
    if record.spiking and not isinstance(surrogate, Surrogate):
        raise ValueError(f"neuron.{kind}: surrogate must be a snnlab Surrogate, got {surrogate!r}")


def run_neuron(
    launcher: Launcher,
    kind: str,
    x_seq: torch.Tensor,
    state: tuple,
    p: NeuronParams,
    surrogate: Optional[Surrogate],
    k: Optional[torch.Tensor] = None,
    return_v: bool = False,
) -> tuple:
    """The neuron op on a backend: ``(T, M)`` input -> ``(out (T, M), final state, v_seq or None)``.

    Inputs in a dtype the backend cannot run (e.g. bfloat16 on CPU) are computed in float32 and
    the outputs cast back; autograd flows through those casts.
    """
    _validate(kind, x_seq, state, p, surrogate)
    dtype = launcher.compute_dtype(x_seq.dtype)
    x = x_seq.to(dtype).contiguous()
    a0 = state[0].to(dtype).contiguous()
    b0 = state[1].to(dtype).contiguous() if len(state) > 1 else pool.zeros(tuple(a0.shape), dtype, a0.device)
    leak = KINDS.get(kind).learnable_leak
    kc = k.to(dtype) if (leak and isinstance(k, torch.Tensor)) else None
    k_value = float(kc.detach()) if kc is not None else (float(k) if (leak and k is not None) else None)
    tensors = (x, a0, b0) + ((kc,) if kc is not None else ())
    train = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    plan = Plan(
        kind,
        eq.family_of(kind),
        pack_params(kind, p, k_value, dtype),
        pack_flags(kind, p, train, return_v),
        surrogate,
        launcher,
    )
    if train:
        out, a_T, b_T, v_seq = FusedNeuronFunction.apply(plan, x, kc, a0, b0)
    else:
        out, a_T, b_T, v_seq = run_forward(plan, x, a0, b0)[:4]
    final = (a_T, b_T)[: len(state)]
    final = type(state)(*(s.to(x_seq.dtype) for s in final))
    v_seq = v_seq.to(x_seq.dtype) if v_seq is not None else None
    return out.to(x_seq.dtype), final, v_seq


def register_neuron_kernels(launcher: Launcher, backend: str, check: Callable[[str, torch.Tensor], None]) -> None:
    """Register ``neuron.<kind>`` on ``backend`` for every kind of :data:`snnlab.functional.KINDS`.

    ``check(kind, x_seq)`` raises when the input cannot run on this backend (e.g. its device).
    """
    from snnlab.kernels.registry import register

    def make(kind: str) -> Callable:
        @torch.compiler.disable
        def kernel(
            x_seq: torch.Tensor,
            state: tuple,
            p: NeuronParams,
            surrogate: Optional[Surrogate],
            k: Optional[torch.Tensor] = None,
            return_v: bool = False,
        ) -> tuple:
            """(T, M) input -> (out (T, M), final state, v_seq (T, M) or None), fused."""
            check(kind, x_seq)
            return run_neuron(launcher, kind, x_seq, state, p, surrogate, k=k, return_v=return_v)

        kernel.__name__ = f"{kind}_multistep_{backend}"
        return kernel

    for kind in KINDS:
        register(f"neuron.{kind}", backend)(make(kind))
