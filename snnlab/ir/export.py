"""``to_nir``: walk a time-major snnlab model as a chain of layers and write a NIR graph.

What is walked, in this order of preference:

1. a module with ``nir_layers()`` -> its list of modules or ``(name, module)`` pairs;
2. ``nn.Sequential`` / ``nn.ModuleList`` -> children in order; ``TimeDistributed`` -> its module;
3. any other container -> its children in registration order, *checked*: the chain is run on a
   random probe and must reproduce ``model(x)`` exactly, else GraphError (give it ``nir_layers``).

A ``Linear`` that receives a multi-dimensional per-sample shape whose size is its
``in_features`` gets an implicit ``Flatten`` node before it (models that call ``x.flatten(2)``
in ``forward``). Leading encoders are not part of the graph (its input is the encoded train).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import nir
import numpy as np
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import GraphError
from snnlab.ir import delays, layers, neurons

ENCODERS = (snn.DirectEncoder, snn.PoissonEncoder, snn.LatencyEncoder, snn.DeltaEncoder)
BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
Leaf = tuple[str, nn.Module, int]  # (dotted name, module, leading dims it sees: 1 or 2)


def _is_leaf(module: nn.Module) -> bool:
    return (
        isinstance(module, (snn.SpikingNeuron, ENCODERS, BATCHNORMS, layers.DROPPED, snn.Flatten))
        or delays.is_delay_layer(module)
        or not any(True for _ in module.children())
    )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def iter_leaves(module: nn.Module, prefix: str = "", offset: int = 2, checks: Optional[list] = None) -> Iterator[Leaf]:
    """Leaves of ``module`` in forward order; appends to ``checks`` the containers that need a probe."""
    if callable(getattr(module, "nir_layers", None)):
        for i, item in enumerate(module.nir_layers()):
            name, sub = item if isinstance(item, tuple) else (str(i), item)
            yield from iter_leaves(sub, _join(prefix, name), offset, checks)
    elif isinstance(module, snn.TimeDistributed):
        yield from iter_leaves(module.module, prefix, 1, checks)
    elif _is_leaf(module):
        yield prefix or type(module).__name__, module, offset
    else:
        if not isinstance(module, (nn.Sequential, nn.ModuleList)) and checks is not None:
            checks.append(prefix or type(module).__name__)
        for name, sub in module.named_children():
            yield from iter_leaves(sub, _join(prefix, name), offset, checks)


def _time_major(module: nn.Module, offset: int) -> Callable[[torch.Tensor], torch.Tensor]:
    if offset == 2:
        return module

    def apply(x: torch.Tensor) -> torch.Tensor:
        y = module(x.reshape(-1, *x.shape[2:]))  # (T*B, ...)
        return y.reshape(*x.shape[:2], *y.shape[1:])

    return apply


@dataclass
class _Builder:
    """Accumulates nodes and edges of a chain, tracking the per-sample shape."""

    dt: float
    shape: Optional[tuple[int, ...]] = None
    input_shape: Optional[tuple[int, ...]] = None
    nodes: dict[str, nir.NIRNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    tail: list[str] = field(default_factory=lambda: ["input"])
    trace: list[Callable[[torch.Tensor], torch.Tensor]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def set_shape(self, shape: tuple[int, ...]) -> None:
        self.input_shape = self.shape = tuple(int(s) for s in shape)

    def add(self, name: str, node: nir.NIRNode, out_shape: Optional[tuple[int, ...]]) -> None:
        if name in self.nodes or name in ("input", "output"):
            raise GraphError(f"layer name {name!r} occurs twice; give nir_layers() unique names")
        self.nodes[name] = node
        self.edges.extend((t, name) for t in self.tail)
        self.tail = [name]
        self.shape = None if out_shape is None else tuple(int(s) for s in out_shape)

    def probe_shape(self, module: nn.Module, offset: int) -> Optional[tuple[int, ...]]:
        if self.shape is None:
            return None
        param = next(module.parameters(), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        with torch.no_grad():
            out = module(torch.zeros((1,) * offset + self.shape, dtype=dtype))
        return tuple(out.shape[offset:])


def _add_linear_input(b: _Builder, name: str, module: nn.Module, n_in: int) -> None:
    """Set the shape for a first layer, or insert the implicit Flatten a Linear needs."""
    if b.shape is None and not b.nodes:
        b.set_shape((n_in,))
    elif b.shape is not None and len(b.shape) > 1 and math.prod(b.shape) == n_in:
        flat = nir.Flatten(
            input_type={"input": np.asarray(b.shape)}, start_dim=0, end_dim=-1, metadata={"snnlab.implicit": True}
        )
        b.add(f"{name}.flatten", flat, (n_in,))
        b.trace.append(lambda x: x.flatten(2))


def _add_leaf(b: _Builder, name: str, module: nn.Module, offset: int) -> None:
    if isinstance(module, ENCODERS):
        if b.nodes:
            raise GraphError(f"layer {name!r}: encoder {type(module).__name__} inside the network has no NIR node")
        b.meta["snnlab.encoder"] = type(module).__name__
        return
    if isinstance(module, layers.DROPPED):
        return
    if isinstance(module, BATCHNORMS):
        if b.tail and all(
            isinstance(b.nodes.get(t), nir.Delay) and delays.LAYER_KEY in (b.nodes[t].metadata or {}) for t in b.tail
        ):  # after a delay layer: fold into its groups
            scale, shift = layers.batchnorm_affine(module, name)
            b.tail = delays.fold_batchnorm_groups(b.nodes, b.edges, b.tail, scale, shift)
        elif len(b.tail) != 1 or b.tail[0] not in b.nodes:
            raise GraphError(f"layer {name!r}: {type(module).__name__} must follow a Linear, Conv or delay layer")
        else:
            b.nodes[b.tail[0]] = layers.fold_batchnorm(b.nodes[b.tail[0]], module, name)
        b.trace.append(_time_major(module, offset))
        return
    if isinstance(module, snn.SpikingNeuron):
        if b.shape is None:
            raise GraphError(
                f"layer {name!r}: the shape reaching neuron {type(module).__name__} is unknown; "
                f"pass input_shape=(...) per sample"
            )
        b.add(name, neurons.neuron_to_node(module, b.shape, b.dt, name), b.shape)
        b.trace.append(module)
        return
    if delays.is_delay_layer(module):
        _add_delay_layer(b, name, module)
        return
    if isinstance(module, nn.Linear):
        _add_linear_input(b, name, module, module.in_features)
    node = layers.layer_to_node(module, b.shape, offset, name)
    b.add(name, node, b.probe_shape(module, offset))
    b.trace.append(_time_major(module, offset))


def _add_delay_layer(b: _Builder, name: str, module: nn.Module) -> None:
    group_nodes, inner, entries, exits = delays.delay_groups(module, name, b.dt)
    n_out, n_in = group_nodes[entries[0]].weight.shape
    _add_linear_input(b, name, module, int(n_in))
    for key in group_nodes:
        if key in b.nodes:
            raise GraphError(f"delay group node {key!r} occurs twice")
    b.nodes.update(group_nodes)
    b.edges.extend([(t, e) for t in b.tail for e in entries] + inner)
    b.tail, b.shape = exits, (int(n_out),)
    b.trace.append(module)


def _graph_metadata(b: _Builder) -> dict[str, Any]:
    import snnlab

    return {
        "dt": float(b.dt),
        "time_unit": "s",
        "writer": "snnlab",
        "snnlab_version": str(snnlab.__version__),
        **b.meta,
    }


def _verify(model: nn.Module, b: _Builder, containers: list[str]) -> None:
    """Run the walked chain and the model on one probe; GraphError when they differ."""
    if b.input_shape is None or "snnlab.encoder" in b.meta:
        raise GraphError(
            f"module {containers[0]!r} is not a Sequential and the chain of its children cannot be "
            f"checked (unknown input shape or an encoder); pass input_shape or give it nir_layers()"
        )
    gen = torch.Generator().manual_seed(0)
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    x = 2.0 * torch.rand((4, 2) + b.input_shape, generator=gen, dtype=dtype)
    with torch.no_grad():
        expected, h = model(x), x
        for step in b.trace:
            h = step(h)
    if not (isinstance(expected, torch.Tensor) and expected.shape == h.shape and torch.equal(expected, h)):
        raise GraphError(
            f"module {containers[0]!r} ({type(model).__name__}): its forward is not the chain of its "
            f"children in order; give the model a nir_layers() method listing its layers"
        )


def to_nir(
    model: nn.Module, dt: Optional[float] = None, input_shape: Optional[tuple[int, ...]] = None, check: bool = True
) -> nir.NIRGraph:
    """Export a time-major snnlab model to a NIR graph (evaluation semantics: no dropout, BN folded).

    Args:
        model: a chain of layers (see the module docstring for what is walked).
        dt: seconds per step; defaults to ``model.dt`` when the model has one.
        input_shape: per-sample input shape (no time, no batch); needed for conv models and
            defaults to ``model.input_shape`` when present, else the first Linear's ``in_features``.
        check: verify the walk of a generic container on a probe input (see the module docstring).

    Returns:
        The graph, with metadata ``dt``, ``time_unit``, ``writer``, ``snnlab_version``.

    Raises:
        GraphError: naming the layer and module type NIR cannot express, or a missing shape.
    """
    dt = getattr(model, "dt", None) if dt is None else dt
    if dt is None or not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise GraphError(f"to_nir: dt must be a positive number of seconds per step, got {dt!r}")
    input_shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    b = _Builder(float(dt))
    if input_shape is not None:
        b.set_shape(tuple(int(s) for s in input_shape))
    was_training = model.training
    model.eval()
    try:
        containers: list[str] = []
        for name, module, offset in iter_leaves(model, checks=containers):
            _add_leaf(b, name, module, offset)
        if not b.nodes:
            raise GraphError(f"to_nir: {type(model).__name__} holds no exportable layer")
        if containers and check:
            _verify(model, b, containers)
    finally:
        model.train(was_training)
    return _finish(b)


def _finish(b: _Builder) -> nir.NIRGraph:
    nodes = dict(b.nodes)
    nodes["input"] = nir.Input(input_type={"input": np.asarray(b.input_shape, dtype=np.int64)})
    nodes["output"] = nir.Output(output_type={"output": np.asarray(b.shape, dtype=np.int64)})
    edges = list(b.edges) + [(t, "output") for t in b.tail]
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=_graph_metadata(b))
    except (ValueError, TypeError) as err:
        raise GraphError(f"to_nir: the graph fails NIR's shape check: {err}") from err
