"""Read a NIR graph as the hardware sees it: neuron layers and the projections feeding them.

A *neuron layer* is one NIR neuron node (LIF, CubaLIF, IF, LI, CubaLI, I). A *projection* is
one weight node (Affine, Linear, Conv1d, Conv2d) on a path from a source (another neuron layer
or an Input node) to that neuron layer, possibly through Flatten, pooling, Scale and Delay
nodes. Delay groups (docs/nir_conventions.md) appear as several projections with their delay
in steps. Connection counts ignore convolution borders (an upper bound).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnlab.errors import GraphError

NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I")
WEIGHT_TYPES = ("Affine", "Linear", "Conv1d", "Conv2d")
PASS_TYPES = ("Delay", "Flatten", "SumPool2d", "AvgPool2d", "Scale")
IO_TYPES = ("Input", "Output")
SUPPORTED = NEURON_TYPES + WEIGHT_TYPES + PASS_TYPES + IO_TYPES


@dataclass
class Projection:
    """Synapses from one source into one neuron layer through one weight node."""

    node: str  # weight node key ("" for a one-to-one connection without weights)
    op: str  # "Affine", "Conv2d", ... or "Identity"
    source: str  # neuron layer or Input node key
    weight: np.ndarray | None
    delay_steps: int = 0
    fan_in: np.ndarray = field(default_factory=lambda: np.zeros(1))  # per post neuron (or max for conv)
    fan_out: np.ndarray = field(default_factory=lambda: np.zeros(1))  # per pre neuron (or max for conv)
    n_synapses: int = 0  # expanded non-zero connections
    stored_weights: int = 0  # non-zero weights as stored (kernels once for conv)


@dataclass
class NeuronLayer:
    """One neuron node and its incoming projections."""

    name: str
    op: str
    shape: tuple[int, ...]
    projections: list[Projection]

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def fan_in(self) -> int:
        """Largest number of synapses converging on one neuron of this layer."""
        return _max_of_sum([p.fan_in for p in self.projections])

    @property
    def max_delay(self) -> int:
        return max((p.delay_steps for p in self.projections), default=0)


@dataclass
class GraphLayers:
    """The neuron layers of a graph in topological order, plus its inputs."""

    layers: list[NeuronLayer]
    inputs: dict[str, tuple[int, ...]]
    dt: float | None

    def layer(self, name: str) -> NeuronLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no neuron layer {name!r}; layers are {[l.name for l in self.layers]}")

    def fan_out(self, source: str) -> int:
        """Largest number of synapses leaving one neuron (or input channel) of ``source``."""
        outs = [p.fan_out for layer in self.layers for p in layer.projections if p.source == source]
        return _max_of_sum(outs)


def _max_of_sum(vectors: list[np.ndarray]) -> int:
    if not vectors:
        return 0
    if len({v.size for v in vectors}) == 1:
        return int(np.sum(vectors, axis=0).max())
    return int(sum(v.max() for v in vectors))


def _shape(node) -> tuple[int, ...] | None:
    for attr, key in (("output_type", "output"), ("input_type", "input")):
        types = getattr(node, attr, None) or {}
        value = types.get(key)
        if value is not None:
            return tuple(int(s) for s in np.atleast_1d(value))
    return None


def _neuron_shape(node) -> tuple[int, ...]:
    shape = _shape(node)
    if shape:
        return shape
    for attr in ("tau", "tau_mem", "r"):
        if hasattr(node, attr):
            return tuple(np.shape(getattr(node, attr))) or (1,)
    return (1,)


def _dense_projection(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    nz = np.asarray(weight) != 0  # (out, in)
    return nz.sum(axis=1), nz.sum(axis=0), int(nz.sum())


def _conv_projection(node) -> tuple[np.ndarray, np.ndarray, int, int]:
    weight = np.asarray(node.weight)  # (C_out, C_in/groups, *kernel)
    nz = weight != 0
    out_shape = _shape(node)
    if out_shape is None or len(out_shape) != weight.ndim - 1:
        raise GraphError(f"conv node needs input_shape to size its output; got output type {out_shape}")
    positions = int(np.prod(out_shape[1:]))
    per_channel = nz.reshape(nz.shape[0], -1).sum(axis=1)  # fan-in of one output neuron per channel
    stride = np.broadcast_to(np.atleast_1d(node.stride), (weight.ndim - 2,))
    per_input = nz.sum(axis=(0,) + tuple(range(2, weight.ndim)))  # kernel taps per input channel
    fan_out = np.ceil(per_input / float(np.prod(stride)))
    return per_channel, fan_out, int(per_channel.sum() * positions), int(nz.sum())


def _delay_steps(node, dt: float | None, key: str) -> int:
    values = np.atleast_1d(np.asarray(node.delay, dtype=float))
    if dt is None:
        raise GraphError(f"Delay node {key!r} needs the graph's dt (metadata 'dt' or dt=) to convert seconds to steps")
    return int(round(float(values.max()) / dt))


class _Tracer:
    """Walks backwards from each neuron node to the weight nodes and sources feeding it."""

    def __init__(self, graph, dt: float | None):
        self.nodes = graph.nodes
        self.dt = dt
        self.preds: dict[str, list[str]] = {k: [] for k in graph.nodes}
        for src, dst in graph.edges:
            self.preds[dst].append(src)

    def projections(self, neuron: str) -> list[Projection]:
        found: list[Projection] = []
        for pred in self.preds[neuron]:
            self._visit(pred, 0, None, found, set())
        return found

    def _visit(self, key: str, delay: int, weight_key: str | None, found: list, seen: set) -> None:
        if key in seen:
            return
        seen = seen | {key}
        node = self.nodes[key]
        kind = type(node).__name__
        if kind in NEURON_TYPES or kind == "Input":
            found.append(self._make(weight_key, key, delay))
            return
        if kind == "Delay":
            delay += _delay_steps(node, self.dt, key)
        elif kind in WEIGHT_TYPES:
            if weight_key is not None:
                raise GraphError(f"weight nodes {key!r} -> {weight_key!r} are in series; fold them into one")
            weight_key = key
        for pred in self.preds[key]:
            self._visit(pred, delay, weight_key, found, seen)

    def _make(self, weight_key: str | None, source: str, delay: int) -> Projection:
        if weight_key is None:
            ones = np.ones(1)
            return Projection("", "Identity", source, None, delay, ones, ones, 0, 0)
        node = self.nodes[weight_key]
        kind = type(node).__name__
        if kind in ("Affine", "Linear"):
            fan_in, fan_out, n = _dense_projection(node.weight)
            stored = n
        else:
            fan_in, fan_out, n, stored = _conv_projection(node)
        return Projection(weight_key, kind, source, np.asarray(node.weight), delay, fan_in, fan_out, n, stored)


def _check_nodes(graph) -> None:
    for key, node in graph.nodes.items():
        kind = type(node).__name__
        if kind == "NIRGraph":
            raise GraphError(f"node {key!r} is a nested NIRGraph; flatten the graph before mapping it")
        if kind not in SUPPORTED:
            raise GraphError(f"node {key!r} has unsupported type {kind}; supported: {list(SUPPORTED)}")


def _topological(graph, names: list[str]) -> list[str]:
    order = {key: i for i, key in enumerate(graph.nodes)}
    return sorted(names, key=lambda k: order[k])


def read_graph(graph, dt: float | None = None) -> GraphLayers:
    """Neuron layers and inputs of a NIR graph.

    Args:
        graph: a ``nir.NIRGraph``.
        dt: seconds per step; defaults to ``graph.metadata["dt"]`` (needed only for Delay nodes).

    Raises:
        GraphError: a nested graph, an unsupported node type, weight nodes in series, a Delay
            without dt, or a graph without neuron nodes.
    """
    _check_nodes(graph)
    metadata = getattr(graph, "metadata", None) or {}
    dt = dt if dt is not None else (float(metadata["dt"]) if "dt" in metadata else None)
    tracer = _Tracer(graph, dt)
    neurons = [k for k, n in graph.nodes.items() if type(n).__name__ in NEURON_TYPES]
    if not neurons:
        raise GraphError(f"graph has no neuron nodes; neuron types are {list(NEURON_TYPES)}")
    layers = []
    for key in _topological(graph, neurons):
        node = graph.nodes[key]
        layers.append(NeuronLayer(key, type(node).__name__, _neuron_shape(node), tracer.projections(key)))
    inputs = {k: _shape(n) or (1,) for k, n in graph.nodes.items() if type(n).__name__ == "Input"}
    return GraphLayers(layers, inputs, dt)
