"""Read a NIR graph as the hardware sees it: neuron layers and the synapses feeding them.

The graph is read as :class:`snnlab.ir.graph.FlatGraph` (the one reader shared with the
simulator and ``from_nir``: one node table, one dt rule, one delay rule, shapes inferred).
A *neuron layer* is one neuron node (LIF, CubaLIF, IF, LI, CubaLI, I). A :class:`SynapseSet`
is one weight node (Affine, Linear, Conv1d, Conv2d) on a path from a source (another neuron
layer or an Input node) to that neuron layer, possibly through identity, pooling, Scale and
Delay nodes. Delay groups (docs/nir_conventions.md) appear as several synapse sets with their
delay in steps. Connection counts ignore convolution borders (an upper bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snnlab.errors import GraphError
from snnlab.ir.graph import FlatGraph, flat_graph, kinds

NEURON_TYPES = kinds("neuron")
WEIGHT_TYPES = kinds("weight")


@dataclass
class SynapseSet:
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
    projections: list[SynapseSet]

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


def _dense_projection(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    nz = np.asarray(weight) != 0  # (out, in)
    return nz.sum(axis=1), nz.sum(axis=0), int(nz.sum())


def _conv_projection(node: Any, out_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int, int]:
    weight = np.asarray(node.weight)  # (C_out, C_in/groups, *kernel)
    nz = weight != 0
    positions = int(np.prod(out_shape[1:]))
    per_channel = nz.reshape(nz.shape[0], -1).sum(axis=1)  # fan-in of one output neuron per channel
    stride = np.broadcast_to(np.atleast_1d(node.stride), (weight.ndim - 2,))
    per_input = nz.sum(axis=(0,) + tuple(range(2, weight.ndim)))  # kernel taps per input channel
    fan_out = np.ceil(per_input / float(np.prod(stride)))
    return per_channel, fan_out, int(per_channel.sum() * positions), int(nz.sum())


class _Tracer:
    """Walks backwards from each neuron node to the weight nodes and sources feeding it."""

    def __init__(self, graph: FlatGraph):
        self.g = graph

    def projections(self, neuron: str) -> list[SynapseSet]:
        found: list[SynapseSet] = []
        for pred in self.g.preds(neuron):
            self._visit(pred, 0, None, found, set())
        return found

    def _visit(self, key: str, delay: int, weight_key: str | None, found: list, seen: set) -> None:
        if key in seen:
            return
        seen = seen | {key}
        role = self.g.role(key)
        if role == "neuron" or key in self.g.inputs:
            found.append(self._make(weight_key, key, delay))
            return
        if role == "delay":
            delay += int(self.g.delay_steps(key).max(initial=0))
        elif role == "weight":
            if weight_key is not None:
                raise GraphError(f"weight nodes {key!r} -> {weight_key!r} are in series; fold them into one")
            weight_key = key
        for pred in self.g.preds(key):
            self._visit(pred, delay, weight_key, found, seen)

    def _make(self, weight_key: str | None, source: str, delay: int) -> SynapseSet:
        if weight_key is None:
            ones = np.ones(1)
            return SynapseSet("", "Identity", source, None, delay, ones, ones, 0, 0)
        node = self.g.nodes[weight_key]
        kind = type(node).__name__
        if kind in ("Affine", "Linear"):
            fan_in, fan_out, n = _dense_projection(node.weight)
            stored = n
        else:
            fan_in, fan_out, n, stored = _conv_projection(node, self.g.out_shape[weight_key])
        return SynapseSet(weight_key, kind, source, np.asarray(node.weight), delay, fan_in, fan_out, n, stored)


def graph_layers(graph: Any, dt: float | None = None) -> GraphLayers:
    """Neuron layers (in topological order) and inputs of a NIR graph.

    Args:
        graph: a ``nir.NIRGraph`` (or a ``.nir`` path).
        dt: seconds per step when the graph metadata has none (needed only for Delay nodes).

    Raises:
        GraphError: a nested graph, an unsupported node type, weight nodes in series, a Delay
            without dt or with a delay that is not a whole number of steps, an unreachable
            node, or a graph without neuron nodes.
        ShapeError: shapes that do not agree along an edge.
    """
    g = flat_graph(graph, dt, reader="hw")
    tracer = _Tracer(g)
    neurons = [k for k in g.order if g.role(k) == "neuron"]
    if not neurons:
        raise GraphError(f"graph has no neuron nodes; neuron types are {list(NEURON_TYPES)}")
    layers = [NeuronLayer(k, g.kind(k), tuple(g.out_shape[k]), tracer.projections(k)) for k in neurons]
    inputs = {k: tuple(g.out_shape[k]) for k in g.inputs}
    return GraphLayers(layers, inputs, g.dt)
