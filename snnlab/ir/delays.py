"""Per-synapse integer delays as NIR delay groups, and the modules that run them.

Export (project convention): a delay layer with integer delays ``D (out, in)`` (steps) becomes,
for every delay value ``d`` present, a ``nir.Linear`` node ``<layer>.d<d>`` holding only the
synapses of delay ``d`` followed by a ``nir.Delay`` node ``<layer>.d<d>.delay`` with
``delay = d * dt`` for every output neuron; all groups feed the same next node. Group nodes
carry ``metadata = {"snnlab.layer": <layer>, "snnlab.delay_steps": d}``. A layer bias has no
delay; it is written on the ``d = 0`` group, which then is an ``Affine`` (created with zero
weights when no synapse has delay 0).

Import: groups with that metadata become one :class:`DelayGroupLinear`; other ``Delay`` nodes
become a :class:`DelayBuffer`. Both are time-major; with ``step_mode = "s"`` they keep a history
of inputs so that a recurrent graph can run them one step at a time.
"""

from __future__ import annotations

import abc
from typing import Any, Optional

import nir
import numpy as np
import torch
from torch import nn

from snnlab.errors import GraphError

LAYER_KEY, STEPS_KEY = "snnlab.layer", "snnlab.delay_steps"
PAD_KEY = "snnlab.right_pad"  # steps a DelayedLinear appends to its output (absent: 0)


# ----------------------------------------------------------------------------- export
def is_delay_layer(module: nn.Module) -> bool:
    """Whether ``module`` exposes integer per-synapse delays (``snnlab.nn.DelayedLinear``)."""
    return callable(getattr(module, "integer_delays", None)) and hasattr(module, "weight")


def _taps(module: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(weight (out, in), delays (out, in))`` per tap, as float64 / int64 arrays."""
    if callable(getattr(module, "taps", None)):
        pairs = module.taps()
    else:
        pairs = [(module.weight, module.integer_delays())]
    out = []
    for weight, delays in pairs:
        w = torch.as_tensor(weight).detach().cpu().double().numpy()
        d = torch.as_tensor(delays).detach().cpu().numpy().astype(np.int64)
        if w.ndim != 2 or w.shape != d.shape:
            raise GraphError(f"delay layer: weight {w.shape} and delays {d.shape} must both be (out, in)")
        if d.min(initial=0) < 0:
            raise GraphError(f"delay layer: delays must be >= 0 steps, found {int(d.min())}")
        out.append((w, d))
    return out


def delay_groups(
    module: nn.Module, name: str, dt: float
) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]], list[str], list[str]]:
    """NIR delay groups of a delay layer.

    Returns:
        ``(nodes, internal edges, entry node names, exit node names)``.
    """
    taps = _taps(module)
    shape = taps[0][0].shape
    groups: dict[int, np.ndarray] = {}
    for w, d in taps:
        for value in np.unique(d):
            groups.setdefault(int(value), np.zeros(shape))[d == value] += w[d == value]
    groups = {d: w for d, w in groups.items() if np.any(w != 0)} or {0: np.zeros(shape)}
    bias = getattr(module, "bias", None)
    if bias is not None:
        groups.setdefault(0, np.zeros(shape))
    nodes: dict[str, nir.NIRNode] = {}
    edges, entries, exits = [], [], []
    for steps in sorted(groups):
        lin, dly = f"{name}.d{steps}", f"{name}.d{steps}.delay"
        meta: dict[str, Any] = {LAYER_KEY: name, STEPS_KEY: steps}
        if int(getattr(module, "right_pad", 0)):
            meta[PAD_KEY] = int(module.right_pad)
        weight = groups[steps].astype(np.float32)
        if steps == 0 and bias is not None:
            b = torch.as_tensor(bias).detach().cpu().float().numpy()
            nodes[lin] = nir.Affine(weight=weight, bias=b, metadata=meta)
        else:
            nodes[lin] = nir.Linear(weight=weight, metadata=meta)
        nodes[dly] = nir.Delay(delay=np.full(shape[0], steps * dt, dtype=np.float64), metadata=dict(meta))
        edges.append((lin, dly))
        entries.append(lin)
        exits.append(dly)
    return nodes, edges, entries, exits


def fold_batchnorm_groups(
    nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]], exits: list[str], scale: np.ndarray, shift: np.ndarray
) -> list[str]:
    """Fold a batch norm that follows a delay layer into its groups, in place.

    ``bn(sum_d delay_d(W_d x) + b) = sum_d delay_d((scale W_d) x) + (scale b + shift)``: every
    group's rows are scaled, and the shift joins the bias of the ``d = 0`` group (made an
    ``Affine``; a zero-weight ``d = 0`` group is added when the layer has none).

    Args:
        nodes, edges: the graph being built (changed in place).
        exits: the layer's Delay nodes (``<layer>.d<d>.delay``).
        scale, shift: the batch norm per output channel (see ``layers.batchnorm_affine``).

    Returns:
        The layer's exits after the fold (one more when a ``d = 0`` group was added).
    """
    groups = {ex: next(a for a, b in edges if b == ex) for ex in exits}  # Delay -> its Linear/Affine
    for lin in groups.values():
        node = nodes[lin]
        weight = (node.weight.astype(np.float64) * scale[:, None]).astype(np.float32)
        bias = getattr(node, "bias", None)
        meta = dict(node.metadata or {})
        nodes[lin] = (
            nir.Linear(weight=weight, metadata=meta)
            if bias is None
            else nir.Affine(weight=weight, bias=(bias.astype(np.float64) * scale).astype(np.float32), metadata=meta)
        )
    zero = next((lin for lin in groups.values() if (nodes[lin].metadata or {}).get(STEPS_KEY) == 0), None)
    exits = list(exits)
    if zero is None:
        first = next(iter(groups.values()))
        meta = {**dict(nodes[first].metadata or {}), STEPS_KEY: 0}
        zero = f"{meta[LAYER_KEY]}.d0"
        nodes[zero] = nir.Linear(weight=np.zeros_like(nodes[first].weight), metadata=meta)
        nodes[f"{zero}.delay"] = nir.Delay(delay=np.zeros(len(shift)), metadata=dict(meta))
        edges.extend([(a, zero) for a, b in list(edges) if b == first] + [(zero, f"{zero}.delay")])
        exits.append(f"{zero}.delay")
    node = nodes[zero]
    bias = np.zeros(len(shift)) if getattr(node, "bias", None) is None else node.bias.astype(np.float64)
    nodes[zero] = nir.Affine(weight=node.weight, bias=(bias + shift).astype(np.float32), metadata=dict(node.metadata))
    return exits


# ----------------------------------------------------------------------------- import
class _History(nn.Module, abc.ABC):
    """Shared step-mode machinery: a module of ``(T, B, ...)`` sequences run one step at a time.

    Subclasses define :meth:`run_sequence`, the whole-sequence computation.
    """

    max_delay: int

    def __init__(self) -> None:
        super().__init__()
        self.step_mode = "m"
        self.history: list[torch.Tensor] = []

    def reset(self) -> None:
        """Forget the inputs seen in single-step mode."""
        self.history = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "m":
            return self.run_sequence(x)
        self.history = (self.history + [x])[-(self.max_delay + 1) :]
        return self.run_sequence(torch.stack(self.history))[-1]

    @abc.abstractmethod
    def run_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, ...) -> (T', B, ...)``."""


class DelayGroupLinear(_History):
    """Linear map with one integer delay per synapse: ``y[t] = b + sum_d W_d x[t - d]``.

    Args:
        weights: ``(G, out, in)`` the synapses of each delay group.
        delays: ``G`` delays in steps.
        bias: optional ``(out,)``, added at every step.
    """

    def __init__(self, weights: torch.Tensor, delays: list[int], bias: Optional[torch.Tensor] = None) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.as_tensor(weights, dtype=torch.float32))  # (G, out, in)
        self.delays = [int(d) for d in delays]
        self.max_delay = max(self.delays)
        self.bias = None if bias is None else nn.Parameter(torch.as_tensor(bias, dtype=torch.float32))

    @property
    def weight(self) -> torch.Tensor:
        """``(out, in)`` the synapse weights summed over groups."""
        return self.weights.sum(0)

    def taps(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(weight (out, in), delays (out, in))`` per group, the form ``to_nir`` exports."""
        shape = self.weights.shape[1:]
        return [(w, torch.full(shape, d, dtype=torch.long)) for w, d in zip(self.weights, self.delays)]

    def integer_delays(self) -> torch.Tensor:
        """``(out, in)`` delay of every synapse (that of its non-zero group; 0 where all are zero)."""
        nonzero = self.weights.detach() != 0  # (G, out, in)
        d = torch.tensor(self.delays).view(-1, 1, 1).expand_as(nonzero)
        return torch.where(nonzero, d, torch.zeros_like(d)).amax(0)

    def run_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, in) -> (T, B, out)``."""
        T = x.shape[0]
        y = x.new_zeros(*x.shape[:-1], self.weights.shape[1])
        if self.bias is not None:
            y = y + self.bias
        for w, d in zip(self.weights, self.delays):
            if d < T:
                y = torch.cat([y[:d], y[d:] + x[: T - d] @ w.t()])
        return y

    def extra_repr(self) -> str:
        return f"in={self.weights.shape[2]}, out={self.weights.shape[1]}, delays={self.delays}"


class DelayBuffer(_History):
    """Delay each channel by its own integer number of steps: ``y[t, ..., c] = x[t - d_c, ..., c]``."""

    def __init__(self, steps: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("steps", torch.as_tensor(np.asarray(steps, dtype=np.int64)))
        self.max_delay = int(self.steps.max()) if self.steps.numel() else 0

    def run_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """``x (T, B, ...) -> (T, B, ...)``, zeros before a channel's first delayed input."""
        T = x.shape[0]
        y = torch.zeros_like(x)
        for d in torch.unique(self.steps).tolist():
            if d < T:
                mask = (self.steps == d).expand_as(x[d:])
                y = torch.cat([y[:d], torch.where(mask, x[: T - d], y[d:])])
        return y

    def extra_repr(self) -> str:
        return f"max_delay={self.max_delay}"


def pack_taps(weights: np.ndarray, delays: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Groups ``(G, out, in)`` -> the fewest taps ``(weight, delays)`` holding every non-zero synapse."""
    mask = weights != 0  # (G, O, I)
    rank = np.cumsum(mask, axis=0) - 1
    d = np.asarray(delays, dtype=np.int64).reshape(-1, 1, 1)
    taps = []
    for m in range(max(int(mask.sum(0).max(initial=0)), 1)):
        pick = mask & (rank == m)
        taps.append(
            (
                torch.as_tensor((weights * pick).sum(0), dtype=torch.float32),
                torch.as_tensor((d * pick).sum(0), dtype=torch.long),
            )
        )
    return taps


def _delayed_linear(weights: np.ndarray, delays: list[int], bias: Optional[torch.Tensor], pad: int) -> nn.Module:
    """A ``snnlab.nn.DelayedLinear`` holding the groups exactly (evaluation mode)."""
    from snnlab.nn.delay import DelayedLinear

    taps = pack_taps(weights, delays)
    out_f, in_f = weights.shape[1:]
    layer = DelayedLinear(
        in_f, out_f, max_delay=max(delays) + 1, kernel_count=len(taps), bias=bias is not None, right_pad=pad
    )
    layer.set_taps(taps)
    if bias is not None:
        with torch.no_grad():
            layer.bias.copy_(bias)
    return layer.eval()


def group_module(nodes: dict[str, Any], names: list[str], layer: str, native: bool = True) -> nn.Module:
    """One delay layer from the group ``Linear``/``Affine`` nodes ``names`` of ``layer``.

    A ``snnlab.nn.DelayedLinear`` when ``native`` and that class is importable, else a
    :class:`DelayGroupLinear` (which also runs step by step inside recurrent graphs).
    """
    weights, delays, bias = [], [], None
    for n in names:
        node = nodes[n]
        weights.append(np.asarray(node.weight, dtype=np.float32))
        delays.append(int(np.asarray(node.metadata[STEPS_KEY]).reshape(-1)[0]))
        if isinstance(node, nir.Affine):
            if bias is not None:
                raise GraphError(f"delay layer {layer!r}: more than one group node carries a bias")
            bias = torch.as_tensor(np.asarray(node.bias, dtype=np.float32))
    if len({w.shape for w in weights}) != 1:
        raise GraphError(f"delay layer {layer!r}: group weights differ in shape {[w.shape for w in weights]}")
    pad = max(int(np.asarray((nodes[n].metadata or {}).get(PAD_KEY, 0)).reshape(-1)[0]) for n in names)
    if native:
        try:
            return _delayed_linear(np.stack(weights), delays, bias, pad)
        except ImportError:
            pass
    return DelayGroupLinear(torch.as_tensor(np.stack(weights)), delays, bias)
