"""Spiking neuron modules: thin wrappers that own parameters and state and call a kernel.

Equations are in :mod:`snnlab.functional.neuron`. Every module runs in two modes:

- ``step_mode="m"`` (default): input ``(T, B, ...)`` time-major, output of the same shape; the
  state starts at rest on every call (no ``reset`` needed between batches).
- ``step_mode="s"``: input ``(B, ...)`` one step; the state persists across calls until
  :meth:`SpikingNeuron.reset` (streaming).

Example::

    lif = snnlab.nn.LIF(tau=2.0, surrogate=snnlab.surrogate.ATan(alpha=2.0))
    spikes = lif(torch.randn(100, 32, 256))   # (T, B, N) -> (T, B, N)
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import nn

from snnlab.errors import ShapeError
from snnlab.functional import neuron as F
from snnlab.functional.surrogate import Surrogate, get_surrogate
from snnlab.kernels import BACKENDS, dispatch, get_backend
from snnlab.kernels.pool import full as pooled_full
from snnlab.kernels.pool import zeros as pooled_zeros

STEP_MODES = ("m", "s")
_CLASSES: dict[str, type] = {}  # class name -> neuron module class (filled by subclassing)


class SpikingNeuron(nn.Module):
    """Base class of neuron modules; subclasses set ``kind`` and build ``self.params``."""

    kind: str = ""
    is_spiking_neuron = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        _CLASSES[cls.__name__] = cls
        if cls.kind in F.KINDS:
            cls.is_spiking_neuron = F.KINDS.get(cls.kind).spiking

    def __init__(
        self,
        params: F.NeuronParams,
        surrogate: Any = None,
        backend: str = "auto",
        step_mode: str = "m",
        store_v_seq: bool = False,
        check_finite: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if step_mode not in STEP_MODES:
            raise ValueError(f"{type(self).__name__}: step_mode must be one of {STEP_MODES}, got {step_mode!r}")
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"{type(self).__name__}: backend must be auto|{'|'.join(BACKENDS)}, got {backend!r}")
        self.params = params
        self.surrogate: Optional[Surrogate] = get_surrogate(surrogate) if self.is_spiking_neuron else None
        self.backend = backend
        self.step_mode = step_mode
        self.store_v_seq = store_v_seq
        self.check_finite = check_finite
        self.state: Optional[tuple] = None
        self.v_seq: Optional[torch.Tensor] = None
        self._factory = {"device": device, "dtype": dtype}

    # -- parameters a kernel needs beyond ``self.params`` (PLIF overrides) --
    def leak(self) -> Optional[torch.Tensor]:
        return None

    def reset(self) -> None:
        """Forget the state (single-step mode) and any stored membrane sequence."""
        self.state = None
        self.v_seq = None

    def extra_repr(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in F.params_dict(self.params).items())
        sg = f", surrogate={self.surrogate.name}(alpha={self.surrogate.alpha})" if self.surrogate else ""
        return f"{p}{sg}, step_mode={self.step_mode!r}, backend={self.backend!r}"

    def _validate(self, x: torch.Tensor) -> None:
        min_rank = 2 if self.step_mode == "m" else 1
        if not isinstance(x, torch.Tensor) or x.dim() < min_rank:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            want = "(T, B, ...)" if self.step_mode == "m" else "(B, ...)"
            raise ShapeError(
                f"{type(self).__name__}: expected a tensor {want} in step_mode={self.step_mode!r}, got {shape}"
            )
        if not x.is_floating_point():
            raise ShapeError(f"{type(self).__name__}: expected a floating-point input, got {x.dtype}")
        if self.check_finite and not torch.isfinite(x).all():
            raise ValueError(f"{type(self).__name__}: input holds NaN or inf (check_finite=True)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._validate(x)
        perm = memory_order(x) if self.step_mode == "m" else None
        if perm is not None:  # e.g. channels-last (T, B, C, H, W): run on the memory order, keep the strides
            inverse = sorted(range(len(perm)), key=perm.__getitem__)
            return self._forward(x.permute(perm)).permute(inverse)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x if self.step_mode == "m" else x.unsqueeze(0)
        T = seq.shape[0]
        flat = seq.reshape(T, -1)  # (T, M)
        backend = get_backend(self.backend, flat, op=f"neuron.{self.kind}")
        state = self._state_for(flat[0], shared=backend != "torch")
        out, state, v_seq = dispatch(
            f"neuron.{self.kind}",
            backend,
            flat.contiguous(),
            state,
            self.params,
            self.surrogate,
            k=self.leak(),
            return_v=self.store_v_seq,
        )
        if self.step_mode == "s":
            self.state = state
        if self.store_v_seq:
            self.v_seq = v_seq.detach().reshape(seq.shape)
        return out.reshape(seq.shape) if self.step_mode == "m" else out.reshape(x.shape)

    def _state_for(self, like: torch.Tensor, shared: bool = False) -> tuple:
        """The state to start from; ``shared``: a fused kernel only reads it, so zeros may be shared."""
        if self.step_mode == "s" and self.state is not None:
            if self.state[0].shape != like.shape:
                raise ShapeError(
                    f"{type(self).__name__}: step input has {like.numel()} elements per step but the "
                    f"state has {self.state[0].numel()}; call reset() when the batch or shape changes"
                )
            return self.state
        return F.initial_state(self.kind, self.params, like, full=_shared_full if shared else pooled_full)


def _shared_full(shape: tuple, value: float, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """Read-only shared zeros (:func:`snnlab.kernels.pool.zeros`) for a resting value of 0, else a pooled fill."""
    return pooled_zeros(shape, dtype, device) if value == 0.0 else pooled_full(shape, value, dtype, device)


def memory_order(x: torch.Tensor) -> Optional[list[int]]:
    """The dimension order in which a non-contiguous but dense ``x`` is contiguous (time first), else None.

    A channels-last sequence ``(T, B, C, H, W)`` (strides of ``(T, B, H, W, C)``) gives
    ``[0, 1, 3, 4, 2]``; a contiguous tensor, a strided view with gaps, or one whose time is not
    the outermost dimension gives None (the caller copies it into a contiguous tensor as before).
    """
    if x.is_contiguous() or x.dim() < 3:
        return None
    perm = [0] + sorted(range(1, x.dim()), key=lambda d: -x.stride(d))
    permuted = x.permute(perm)
    return perm if permuted.is_contiguous() and x.stride(0) == permuted[0].numel() else None


class IF(SpikingNeuron):
    """Integrate-and-fire: ``h = v + x``."""

    kind = "if"

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = False,
        surrogate: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(F.IFParams(v_threshold, v_reset, detach_reset), surrogate, **kw)


class LIF(SpikingNeuron):
    """Leaky integrate-and-fire with time constant ``tau`` in steps (spikingjelly semantics)."""

    kind = "lif"

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(F.LIFParams(tau, v_threshold, v_reset, decay_input, detach_reset), surrogate, **kw)


class PLIF(LIF):
    """Parametric LIF: ``1/tau = sigmoid(w)`` learned (Fang et al., ICCV 2021); ``init_tau`` > 1."""

    def __init__(self, init_tau: float = 2.0, **kw: Any) -> None:
        if not (isinstance(init_tau, (int, float)) and init_tau > 1.0):
            raise ValueError(f"PLIF: init_tau must be > 1 step (1/tau = sigmoid(w) < 1), got {init_tau!r}")
        super().__init__(tau=init_tau, **kw)
        w0 = -math.log(init_tau - 1.0)
        self.w = nn.Parameter(torch.tensor(w0, **{k: v for k, v in self._factory.items() if v is not None}))

    def leak(self) -> torch.Tensor:
        return torch.sigmoid(self.w)

    @property
    def tau(self) -> float:
        """The current learned time constant, in steps."""
        return float(1.0 / torch.sigmoid(self.w.detach()))


class ALIF(SpikingNeuron):
    """Adaptive-threshold LIF (Bellec et al. 2018): ``theta = v_threshold + beta * a``."""

    kind = "alif"

    def __init__(
        self,
        tau: float = 20.0,
        tau_adapt: float = 200.0,
        beta: float = 1.8,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = None,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Any = None,
        **kw: Any,
    ) -> None:
        params = F.ALIFParams(tau, tau_adapt, beta, v_threshold, v_reset, decay_input, detach_reset)
        super().__init__(params, surrogate, **kw)


class CubaLIF(SpikingNeuron):
    """Current-based LIF (NIR's CubaLIF, forward Euler with dt = 1 step)."""

    kind = "cuba_lif"

    def __init__(
        self,
        tau_syn: float = 5.0,
        tau_mem: float = 10.0,
        r: float = 1.0,
        v_leak: float = 0.0,
        w_in: float = 1.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = False,
        surrogate: Any = None,
        **kw: Any,
    ) -> None:
        params = F.CubaLIFParams(tau_syn, tau_mem, r, v_leak, w_in, v_threshold, v_reset, detach_reset)
        super().__init__(params, surrogate, **kw)


class LI(SpikingNeuron):
    """Non-spiking leaky integrator (readout); the output is the membrane sequence."""

    kind = "li"

    def __init__(self, tau: float = 2.0, v_reset: float = 0.0, decay_input: bool = True, **kw: Any) -> None:
        super().__init__(F.LIParams(tau, v_reset, decay_input), None, **kw)


def neuron_class(kind: str) -> type:
    """The ``snnlab.nn`` module class of neuron kind ``kind`` (the class its record names)."""
    return _CLASSES[F.KINDS.get(kind).module]


def reset(module: nn.Module) -> None:
    """Reset the state of every neuron inside ``module`` (single-step mode)."""
    for m in module.modules():
        if isinstance(m, SpikingNeuron):
            m.reset()
