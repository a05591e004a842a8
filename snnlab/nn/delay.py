"""``DelayedLinear``: a fully connected layer whose synapses carry learnable delays (DCLS).

Per synapse ``(o, i)`` and tap ``m < kernel_count``: a weight ``w`` and a real position ``P``.
Training spreads each tap over nearby integer delays with a normalised Gaussian of width
``|sigma| + 0.27`` (:mod:`snnlab.functional.delay` holds the equations); evaluation rounds
``P`` and uses exactly one integer delay per synapse and tap::

    y[t, b, o] = bias[o] + sum_{i, m} w[o, i, m] * x[t - d[o, i, m], b, i]     (eval)

Input ``(T, B, in)`` time-major, output ``(T + right_pad, B, out)``: causal left padding keeps
every delay in ``[0, max_delay)``, and ``right_pad`` (default ``(max_delay - 1) // 2``, as the
paper) appends steps so that late inputs still reach the output. Any ``T >= 1`` is valid.

Fast paths: the truncated Gaussian (``truncate`` widths each side) in *taps* form goes through
the ``delay.taps`` op (numba kernels on CPU; the torch reference densifies), at a cost of about
``S T`` per synapse and sample for a window of ``S`` delays; the exact dense Gaussian kernel goes
through the ``delay.dense`` op (on CPU per-frequency GEMMs, :mod:`snnlab.kernels.common.spectral_delay`,
whose cost per synapse and sample grows with ``T + K - 1`` instead; the torch reference is one
``conv1d``). ``auto`` trains on the dense path when ``S T > dense_cost (T + K - 1)``.
Call :meth:`on_epoch_end` once per epoch (sigma schedule) and :meth:`after_optimizer_step`
after every step (position clamp); the trainer does both through the model.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import nn

from snnlab.errors import ShapeError
from snnlab.functional import delay as F
from snnlab.kernels import BACKENDS, dispatch, get_backend

PATHS = ("auto", "taps", "dense")
DENSE_COST = 1.5  # taps path cost per (S T) / spectral dense cost per (T + K - 1), measured on CPU


def _check_count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"DelayedLinear: {name} must be an integer >= {low}, got {value!r}")
    return value


class DelayedLinear(nn.Module):
    """Linear layer with one learnable delay per synapse and tap (DCLS 'gauss').

    Args:
        in_features: input neurons ``I``.
        out_features: output neurons ``O``.
        max_delay: kernel size ``K`` in steps; delays lie in ``[0, K)``.
        kernel_count: taps per synapse ``M`` (each with its own weight and delay).
        bias: add a learnable bias per output neuron.
        sigma_init: initial sigma (steps, > 0); default ``max_delay // 2`` (the paper), or 0.23
            when that is 0.
        right_pad: steps appended to the output; default ``(max_delay - 1) // 2`` (the paper).
        truncate: half-width of the training window in Gaussian widths (taps path).
        path: ``"auto"`` | ``"taps"`` | ``"dense"`` for training; evaluation always uses taps.
        dense_cost: ``auto`` trains on the dense path when the window ``S`` delays and ``T`` input
            steps give ``S T > dense_cost (T + K - 1)`` (default 1.5: the two CPU kernels' measured
            cost ratio, ``benchmarks/README.md``); 0 always takes the dense path.
        backend: kernel backend for ``delay.taps`` and ``delay.dense`` (``auto`` | ``torch`` |
            ``numba`` | ``cuda``).
        device: parameter device.
        dtype: parameter dtype.
    """

    is_delay_layer = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        max_delay: int,
        kernel_count: int = 1,
        bias: bool = False,
        sigma_init: Optional[float] = None,
        right_pad: Optional[int] = None,
        truncate: float = 3.0,
        path: str = "auto",
        dense_cost: float = DENSE_COST,
        backend: str = "auto",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = _check_count("in_features", in_features, 1)
        self.out_features = _check_count("out_features", out_features, 1)
        self.kernel_count = _check_count("kernel_count", kernel_count, 1)
        self.max_delay = F.check_max_delay(max_delay)
        self.right_pad = (max_delay - 1) // 2 if right_pad is None else _check_count("right_pad", right_pad, 0)
        default_sigma = float(max_delay // 2) or F.SIGMA_FINAL
        self.sigma_init = F.check_sigma(default_sigma if sigma_init is None else sigma_init, "sigma_init")
        self.truncate = F.check_sigma(truncate, "truncate")
        if path not in PATHS:
            raise ValueError(f"DelayedLinear: path must be one of {PATHS}, got {path!r}")
        if backend != "auto" and backend not in BACKENDS:
            raise ValueError(f"DelayedLinear: backend must be auto|{'|'.join(BACKENDS)}, got {backend!r}")
        if isinstance(dense_cost, bool) or not isinstance(dense_cost, (int, float)) or not 0 <= dense_cost < math.inf:
            raise ValueError(f"DelayedLinear: dense_cost must be a finite number >= 0, got {dense_cost!r}")
        self.path, self.backend, self.dense_cost = path, backend, float(dense_cost)
        factory = {"device": device, "dtype": dtype}
        shape = (out_features, in_features, kernel_count)
        self.weight = nn.Parameter(torch.empty(shape, **factory))  # (O, I, M)
        self.positions = nn.Parameter(torch.empty(shape, **factory))  # (O, I, M) real, steps
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.register_buffer("sigma", torch.tensor(self.sigma_init, dtype=torch.float64))
        self.reset_parameters()

    # ----------------------------------------------------------------- parameters
    def reset_parameters(self) -> None:
        """Paper init: Kaiming-uniform (ReLU gain) weights, uniform positions, clamped; sigma reset."""
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu")
        with torch.no_grad():
            self.positions.uniform_(-self.max_delay // 2, self.max_delay // 2)
            self.sigma.fill_(self.sigma_init)
        self.clamp_positions()
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features * self.kernel_count)
            nn.init.uniform_(self.bias, -bound, bound)

    def clamp_positions(self) -> None:
        """Clamp positions so every delay stays in ``[0, max_delay)`` (after each optimizer step)."""
        low, high = F.position_bounds(self.max_delay)
        with torch.no_grad():
            self.positions.clamp_(low, high)

    def set_sigma(self, sigma: float) -> None:
        """Set the Gaussian sigma (steps, > 0)."""
        self.sigma.fill_(F.check_sigma(sigma))

    def decay_sigma(self, epoch: int, epochs: int) -> float:
        """Paper schedule after ``epoch`` (0-based) of ``epochs``; returns the new sigma."""
        if epochs < 1 or epoch < 0:
            raise ValueError(f"decay_sigma: need epochs >= 1 and epoch >= 0, got epoch={epoch}, epochs={epochs}")
        new = F.decayed_sigma(float(self.sigma), self.sigma_init, epoch, epochs)
        self.sigma.fill_(new)
        return new

    def on_epoch_end(self, epoch: int, epochs: int) -> None:
        """Trainer hook, once per epoch: the sigma schedule."""
        self.decay_sigma(epoch, epochs)

    def after_optimizer_step(self) -> None:
        """Trainer hook, after every optimizer step: clamp positions."""
        self.clamp_positions()

    # ----------------------------------------------------------------- export
    def integer_delays(self) -> torch.Tensor:
        """Evaluation delays in steps, int64 ``(O, I)`` (``(O, I, M)`` when ``kernel_count > 1``)."""
        delays = F.integer_delays(self.positions, self.max_delay)
        return delays[..., 0] if self.kernel_count == 1 else delays

    def taps(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """One ``(weight (O, I), delays (O, I) int64)`` pair per tap, as evaluation uses them."""
        delays = F.integer_delays(self.positions, self.max_delay)
        return [(self.weight[..., m].detach().clone(), delays[..., m].clone()) for m in range(self.kernel_count)]

    def set_taps(self, taps: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Load integer taps (e.g. from a NIR graph): one ``(weight (O, I), delays (O, I))`` per tap."""
        if len(taps) != self.kernel_count:
            raise ValueError(f"set_taps: expected kernel_count={self.kernel_count} taps, got {len(taps)}")
        shape = (self.out_features, self.in_features)
        with torch.no_grad():
            for m, (w, d) in enumerate(taps):
                w, d = torch.as_tensor(w), torch.as_tensor(d)
                if tuple(w.shape) != shape or tuple(d.shape) != shape:
                    raise ValueError(
                        f"set_taps: tap {m} weight and delays must be {shape}, got "
                        f"{tuple(w.shape)} and {tuple(d.shape)}"
                    )
                self.positions[..., m] = F.delays_to_positions(d, self.max_delay).to(self.positions)
                self.weight[..., m] = w.to(self.weight)

    # ----------------------------------------------------------------- forward
    def output_length(self, steps: int) -> int:
        """Output steps for ``steps`` input steps: ``steps + right_pad``."""
        return steps + self.right_pad

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[2] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"DelayedLinear: expected input (T, B, in_features={self.in_features}), got {shape}")
        if x.shape[0] < 1:
            raise ShapeError("DelayedLinear: input needs at least T=1 step")
        if not x.is_floating_point() or x.dtype != self.weight.dtype:
            raise ShapeError(f"DelayedLinear: expected a {self.weight.dtype} input, got {x.dtype}")

    def _taps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g (O, I, M, S), d0 (O, I, M))``: truncated Gaussian (train) or one integer tap (eval)."""
        if not self.training:
            return self.weight.unsqueeze(-1), F.integer_delays(self.positions, self.max_delay)
        return F.gauss_taps(self.weight, self.positions, float(self.sigma), self.max_delay, self.truncate)

    def use_dense(self, steps: int) -> bool:
        """Whether a forward of ``steps`` input steps runs the dense convolution (training only)."""
        if not self.training or self.path == "taps":
            return False
        if self.path == "dense":
            return True
        size = F.window_size(float(self.sigma), self.max_delay, self.truncate)
        return size * steps > self.dense_cost * (steps + self.max_delay - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, in)`` -> ``(T + right_pad, B, out)``."""
        self._check_input(x)
        xb = x.permute(1, 2, 0)  # (B, I, T) view; kernels copy into their own layout
        t_out = self.output_length(x.shape[0])
        if self.use_dense(x.shape[0]):
            kernel = F.gauss_kernel(self.weight, self.positions, float(self.sigma), self.max_delay)
            backend = get_backend(self.backend, xb, op="delay.dense")
            y = dispatch("delay.dense", backend, xb, kernel, t_out)  # (B, O, T')
        else:
            g, d0 = self._taps()
            backend = get_backend(self.backend, xb, op="delay.taps")
            y = dispatch("delay.taps", backend, xb, g, d0, t_out)  # (B, O, T')
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1)
        return y.permute(2, 0, 1)  # (T', B, O)

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, max_delay={self.max_delay}, "
            f"kernel_count={self.kernel_count}, bias={self.bias is not None}, right_pad={self.right_pad}, "
            f"sigma={float(self.sigma):.4g}, path={self.path!r}, backend={self.backend!r}"
        )
