"""Surrogate spike functions, each defined once.

The forward pass of a spike is the Heaviside step ``s = H(x)`` with ``x = h - v_threshold``.
The backward pass replaces ``dH/dx`` by the derivative of a smooth *primitive* ``g_alpha(x)``.

Each surrogate is written once as two scalar formulas (primitive and derivative) that use only
arithmetic, comparisons and the names ``exp``, ``exp_neg`` (``exp`` of an argument <= 0),
``atan``, ``fabs``. Those formulas are compiled for every backend from the same source: with
:mod:`math` for numba CPU and numba-cuda device functions (the CPU kernels swap in the
vectorisable ``exp`` of :mod:`snnlab.kernels.numba.vexp`), and with :mod:`torch` functions for
the reference backend (see :func:`bind`).

| name | primitive g(x) | derivative g'(x) |
|---|---|---|
| ATan | atan(pi/2 a x)/pi + 1/2 | a / (2 (1 + (pi/2 a x)^2)) |
| Sigmoid | 1 / (1 + exp(-a x)) | a g (1 - g) |
| FastSigmoid (SuperSpike) | 1/2 (a x / (1 + a|x|)) + 1/2 | a / (2 (1 + a|x|)^2) |
| Triangle (PiecewiseLinear) | piecewise quadratic | a max(0, 1 - a|x|) |
| Rectangular | clip(a x + 1/2, 0, 1) | a [|x| < 1/(2a)] |
"""

from __future__ import annotations

import functools
import math
import types
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from snnlab.registry import Registry

HALF_PI = math.pi / 2.0


def _atan_primitive(x, alpha):
    return atan(HALF_PI * alpha * x) / math.pi + 0.5  # noqa: F821  (bound per backend)


def _atan_grad(x, alpha):
    return alpha / (2.0 * (1.0 + (HALF_PI * alpha * x) * (HALF_PI * alpha * x)))


def _sigmoid_primitive(x, alpha):
    return 1.0 / (1.0 + exp(-alpha * x))  # noqa: F821


def _sigmoid_grad(x, alpha):
    # a g (1 - g) = a e / (1 + e)^2 with e = exp(-a |x|): one exp of a non-positive argument
    e = exp_neg(-alpha * fabs(x))  # noqa: F821
    return alpha * e / ((1.0 + e) * (1.0 + e))


def _fast_sigmoid_primitive(x, alpha):
    return 0.5 * alpha * x / (1.0 + alpha * fabs(x)) + 0.5  # noqa: F821


def _fast_sigmoid_grad(x, alpha):
    d = 1.0 + alpha * fabs(x)  # noqa: F821
    return alpha / (2.0 * d * d)


def _triangle_primitive(x, alpha):
    inside = fabs(x) < 1.0 / alpha  # noqa: F821
    y = alpha * x
    quad = (0.5 * (1.0 + y) * (1.0 + y)) * (x < 0.0) + (1.0 - 0.5 * (1.0 - y) * (1.0 - y)) * (x >= 0.0)
    return quad * inside + (x >= 1.0 / alpha) * 1.0


def _triangle_grad(x, alpha):
    return alpha * (1.0 - alpha * fabs(x)) * (fabs(x) < 1.0 / alpha)  # noqa: F821


def _rect_primitive(x, alpha):
    y = alpha * x + 0.5
    return y * (fabs(x) < 0.5 / alpha) + (x >= 0.5 / alpha) * 1.0  # noqa: F821


def _rect_grad(x, alpha):
    return alpha * (fabs(x) < 0.5 / alpha)  # noqa: F821


_MATH_NS = {"exp": math.exp, "exp_neg": math.exp, "atan": math.atan, "fabs": abs, "math": math, "HALF_PI": HALF_PI}
_TORCH_NS = {
    "exp": torch.exp,
    "exp_neg": torch.exp,
    "atan": torch.atan,
    "fabs": torch.abs,
    "math": math,
    "HALF_PI": HALF_PI,
}


@functools.cache
def bind(fn: Callable, namespace: str) -> Callable:
    """Return ``fn`` with its globals bound to ``"math"`` (numba, cuda) or ``"torch"`` functions."""
    ns = {"math": _MATH_NS, "torch": _TORCH_NS}[namespace]
    return types.FunctionType(fn.__code__, dict(ns), fn.__name__, fn.__defaults__, fn.__closure__)


@dataclass(frozen=True)
class Surrogate:
    """A surrogate spike function with sharpness ``alpha`` (> 0).

    Call it on ``x = h - v_threshold`` to get spikes with a surrogate gradient.
    """

    alpha: float = 2.0
    primitive_fn: ClassVar[Callable]
    grad_fn: ClassVar[Callable]

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"{type(self).__name__}: alpha must be a finite number > 0, got {self.alpha!r}")

    @property
    def name(self) -> str:
        return type(self).__name__

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """The smooth primitive ``g_alpha(x)`` evaluated with torch."""
        return bind(type(self).primitive_fn, "torch")(x, self._alpha_like(x))

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative ``g'_alpha(x)`` evaluated with torch."""
        return bind(type(self).grad_fn, "torch")(x, self._alpha_like(x))

    def _alpha_like(self, x: torch.Tensor) -> torch.Tensor:
        # a 0-d tensor of x's dtype, so that masks times alpha keep x's precision
        return torch.as_tensor(self.alpha, dtype=x.dtype, device=x.device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Heaviside forward, surrogate backward."""
        return SpikeFunction.apply(x, self)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "alpha": self.alpha}


class ATan(Surrogate):
    primitive_fn = staticmethod(_atan_primitive)
    grad_fn = staticmethod(_atan_grad)


class Sigmoid(Surrogate):
    primitive_fn = staticmethod(_sigmoid_primitive)
    grad_fn = staticmethod(_sigmoid_grad)


class FastSigmoid(Surrogate):
    primitive_fn = staticmethod(_fast_sigmoid_primitive)
    grad_fn = staticmethod(_fast_sigmoid_grad)


class Triangle(Surrogate):
    primitive_fn = staticmethod(_triangle_primitive)
    grad_fn = staticmethod(_triangle_grad)


class Rectangular(Surrogate):
    primitive_fn = staticmethod(_rect_primitive)
    grad_fn = staticmethod(_rect_grad)


PiecewiseLinear = Triangle
SuperSpike = FastSigmoid

SURROGATES: Registry[type[Surrogate]] = Registry("surrogate")
for _name, _cls in (
    ("atan", ATan),
    ("sigmoid", Sigmoid),
    ("fast_sigmoid", FastSigmoid),
    ("superspike", FastSigmoid),
    ("triangle", Triangle),
    ("piecewise_linear", Triangle),
    ("rectangular", Rectangular),
):
    SURROGATES.register(_name, _cls)


def get_surrogate(spec: str | dict | Surrogate | None, alpha: float | None = None) -> Surrogate:
    """Build a surrogate from a name (``"atan"``), a dict ``{"name":..., "alpha":...}`` or an instance."""
    if isinstance(spec, Surrogate):
        return spec
    if spec is None:
        return ATan(2.0 if alpha is None else alpha)
    if isinstance(spec, dict):
        return get_surrogate(spec.get("name", "atan"), spec.get("alpha", alpha))
    cls = SURROGATES.get(str(spec).lower())
    return cls() if alpha is None else cls(float(alpha))


class SpikeFunction(torch.autograd.Function):
    """Heaviside step ``x >= 0`` with the surrogate derivative in backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.grad(x), None
