"""The one flattened NIR graph that every reader of a graph consumes: :class:`FlatGraph`.

``flat_graph(source, dt=None, reader="sim")`` reads a ``nir.NIRGraph`` (or a ``.nir`` file)
once for ``from_nir`` (:mod:`snnlab.ir.importer`), the event-driven simulator
(:mod:`snnlab.sim`) and the hardware backend (:mod:`snnlab.hw`):

- nested graphs are inlined: inner node ``n`` of subgraph ``s`` becomes ``s.n`` and the
  subgraph's own Input/Output become :class:`Port` identities;
- every node type is checked against the one table :data:`NODES` (role, and which readers
  run it);
- nodes are ordered depth-first from the Inputs: an edge into a node still on the search
  stack closes a cycle and is a *back* (recurrent) edge carrying the previous step's value;
  the other edges give a topological order; every node must be reachable from an Input;
- ``dt`` (seconds per step) follows one rule (:func:`graph_dt`); every Delay node is
  converted to steps when the graph is read, by one rule (:func:`delay_steps`: whole steps
  within :data:`DELAY_TOL`, so 1.5 dt is rejected by every reader alike); per-sample shapes
  are inferred on first use (:mod:`snnlab.ir.shapes`).

This module imports nir and numpy only (sim and hw import no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import nir
import numpy as np

from snnlab.errors import GraphError
from snnlab.ir.validate import check_delays, check_node

READERS = ("from_nir", "sim", "hw")
DELAY_TOL = 1e-6  # |delay/dt - round(delay/dt)| allowed, in steps (relative above 1 step): float32 files pass
DT_RTOL = 1e-9  # relative difference allowed between a given dt and the graph metadata dt
Edge = tuple[str, str]


@dataclass(frozen=True)
class NodeKind:
    """What a NIR node type is to the readers of a graph."""

    role: str  # io | identity (values pass unchanged, flat) | weight | pool | scale | delay | neuron | graph
    readers: tuple[str, ...] = READERS  # which readers run it


_SIM_HW = ("sim", "hw")
NODES: dict[str, NodeKind] = {
    "Input": NodeKind("io"),
    "Output": NodeKind("io"),
    "Port": NodeKind("identity"),
    "Identity": NodeKind("identity"),
    "Flatten": NodeKind("identity"),
    "Affine": NodeKind("weight"),
    "Linear": NodeKind("weight"),
    "Conv1d": NodeKind("weight"),
    "Conv2d": NodeKind("weight"),
    "SumPool2d": NodeKind("pool"),
    "AvgPool2d": NodeKind("pool"),
    "Scale": NodeKind("scale"),
    "Delay": NodeKind("delay"),
    "IF": NodeKind("neuron"),
    "LIF": NodeKind("neuron"),
    "LI": NodeKind("neuron"),
    "CubaLIF": NodeKind("neuron"),
    "I": NodeKind("neuron", _SIM_HW),
    "CubaLI": NodeKind("neuron", _SIM_HW),
    "Threshold": NodeKind("neuron", ("sim",)),
    "NIRGraph": NodeKind("graph", ("from_nir", "sim")),
}


@dataclass(frozen=True)
class Port:
    """The Input or Output node of an inlined nested graph: an identity."""

    side: str  # "Input" | "Output"
    metadata: dict = field(default_factory=dict)


def kinds(role: str) -> tuple[str, ...]:
    """Node types of one role in :data:`NODES`, e.g. ``kinds("neuron")``."""
    return tuple(k for k, v in NODES.items() if v.role == role)


def supported(reader: str) -> tuple[str, ...]:
    """Node types that ``reader`` runs (``Port`` is internal and not listed)."""
    if reader not in READERS:
        raise ValueError(f"unknown graph reader {reader!r}; valid: {READERS}")
    return tuple(k for k, v in NODES.items() if reader in v.readers and k != "Port")


def check_kind(name: str, node: Any, reader: str) -> str:
    """The node's type name; GraphError (one line, naming the node) when ``reader`` does not run it."""
    kind = type(node).__name__
    spec = NODES.get(kind)
    if spec is not None and reader in spec.readers:
        return kind
    valid = ", ".join(supported(reader))
    if kind == "NIRGraph":
        raise GraphError(
            f"node {name!r} is a nested NIRGraph; {reader} reads flat graphs only "
            f"(flatten the graph first; supported: {valid})"
        )
    raise GraphError(f"node {name!r} has unsupported type {kind}; supported: {valid} (by {reader})")


def as_nir(source: Union[nir.NIRGraph, str, Path]) -> nir.NIRGraph:
    """A NIR graph from a graph object or a ``.nir`` file (read by :func:`snnlab.ir.io.load`)."""
    if isinstance(source, nir.NIRGraph):
        return source
    from snnlab.ir.io import load

    return load(source)


def graph_dt(graph: nir.NIRGraph, dt: Optional[float] = None) -> Optional[float]:
    """Seconds per step: metadata ``dt`` when present (a given ``dt`` must agree), else ``dt``; may be None."""
    meta_dt = (graph.metadata or {}).get("dt")
    if meta_dt is not None:
        try:
            meta_dt = float(np.asarray(meta_dt, dtype=np.float64).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise GraphError(f"graph metadata dt={meta_dt!r} is not a number of seconds per step") from None
        if dt is not None and not math.isclose(float(dt), meta_dt, rel_tol=DT_RTOL):
            raise GraphError(f"dt={dt} contradicts the graph metadata dt={meta_dt}; leave dt= unset")
        dt = meta_dt
    if dt is not None and not (math.isfinite(float(dt)) and float(dt) > 0):
        raise GraphError(f"dt must be a positive number of seconds per step, got {dt!r}")
    return None if dt is None else float(dt)


def need_dt(dt: Optional[float], what: str) -> float:
    """``dt``, or GraphError saying that ``what`` needs one."""
    if dt is None:
        raise GraphError(
            f"{what} needs a time step: the graph has no metadata 'dt'; pass dt= "
            f"(seconds per step, CLI --dt), e.g. dt=1e-3"
        )
    return dt


def delay_steps(node: Any, name: str, dt: Optional[float]) -> np.ndarray:
    """Integer delays (steps, shaped like the field) of a ``Delay`` node: the one delay rule.

    ``delay / dt`` must be a whole number >= 0 within :data:`DELAY_TOL` steps (relative for
    delays above one step), so float32 files pass and a delay of 1.5 dt is rejected.
    """
    dt = need_dt(dt, f"Delay node {name!r}")
    raw = np.asarray(node.delay, dtype=np.float64)
    steps = raw / dt
    if not np.all(np.isfinite(steps)):
        raise GraphError(f"node {name!r}: field delay holds a non-finite value; delays are seconds >= 0")
    rounded = np.rint(steps)
    if np.any(rounded < 0):
        raise GraphError(f"node {name!r}: field delay has negative values (min {raw.min():g} s); delays must be >= 0")
    off = np.abs(steps - rounded) - DELAY_TOL * np.maximum(np.abs(steps), 1.0)
    if np.any(off > 0):
        bad = float(raw.reshape(-1)[int(np.argmax(off.reshape(-1)))])
        raise GraphError(
            f"node {name!r}: field delay {bad:g} s is {bad / dt:g} steps of dt={dt:g} s, not an integer number of steps"
        )
    return rounded.astype(np.int64)


def order_nodes(names: list[str], edges: list[Edge], starts: list[str]) -> tuple[list[str], set[Edge]]:
    """``(topological order, back edges)`` by depth-first search from ``starts``.

    Raises:
        GraphError: when a node cannot be reached from a start node.
    """
    succs: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        succs[a].append(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 finished
    post: list[str] = []
    back: set[Edge] = set()
    for root in starts:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succs[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                post.append(node)
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succs[nxt])))
    missing = [n for n in names if n not in state]
    if missing:
        raise GraphError(f"nodes {missing} cannot be reached from the inputs {starts}")
    return post[::-1], back


@dataclass
class FlatGraph:
    """A flat, ordered NIR graph: what sim, hw and ``from_nir`` read.

    Nodes are the NIR node objects (nested-graph ports are :class:`Port`); shapes are
    per sample (no batch, no time) and inferred on first use of :attr:`in_shape` /
    :attr:`out_shape`.
    """

    nodes: dict[str, Any]  # name -> nir node, in file order
    edges: list[Edge]
    inputs: list[str]  # top-level Input nodes, in file order
    outputs: list[str]  # top-level Output nodes, in file order
    order: list[str]  # topological order ignoring back edges
    back: set[Edge]  # recurrent edges: carry the previous step's value
    dt: Optional[float]  # seconds per step (None: the graph and the caller gave none)
    delays: dict[str, np.ndarray] = field(default_factory=dict)  # Delay node -> steps (shaped like its field)
    metadata: dict[str, Any] = field(default_factory=dict)
    _shapes: Optional[tuple[dict, dict]] = field(default=None, repr=False)

    def kind(self, name: str) -> str:
        """NIR type name of a node."""
        return type(self.nodes[name]).__name__

    def role(self, name: str) -> str:
        """Role of a node in :data:`NODES` (io, identity, weight, pool, scale, delay, neuron)."""
        return NODES[self.kind(name)].role

    def is_identity(self, name: str) -> bool:
        """Whether the node passes its (flat) values on unchanged: Flatten, Identity, ports."""
        return self.role(name) == "identity"

    def preds(self, name: str) -> list[str]:
        """Sources of the edges into ``name``."""
        return [a for a, b in self.edges if b == name]

    def succs(self, name: str) -> list[str]:
        """Targets of the edges out of ``name``."""
        return [b for a, b in self.edges if a == name]

    def require_dt(self, what: str = "this graph") -> float:
        """The step in seconds; GraphError naming ``what`` when the graph has none."""
        return need_dt(self.dt, what)

    def delay_steps(self, name: str) -> np.ndarray:
        """Integer delays (steps) of the Delay node ``name``, checked when the graph was read."""
        return self.delays[name]

    def _infer(self) -> tuple[dict, dict]:
        if self._shapes is None:
            from snnlab.ir.shapes import infer_shapes

            self._shapes = infer_shapes(self.nodes, self.edges, self.order, self.back)
        return self._shapes

    @property
    def in_shape(self) -> dict[str, tuple[int, ...]]:
        """Per-sample input shape of every node (ShapeError when edges disagree)."""
        return self._infer()[0]

    @property
    def out_shape(self) -> dict[str, tuple[int, ...]]:
        """Per-sample output shape of every node."""
        return self._infer()[1]

    def contracted(self) -> FlatGraph:
        """The graph without identity nodes (each source joined to each target), shapes kept."""
        shapes = self._infer()
        edges = list(self.edges)
        for name in [n for n in self.nodes if self.is_identity(n)]:
            ins = [a for a, b in edges if b == name]
            outs = [b for a, b in edges if a == name]
            edges = [e for e in edges if name not in e] + [(a, b) for a in ins for b in outs]
        edges = list(dict.fromkeys(edges))
        kept = {n: v for n, v in self.nodes.items() if not self.is_identity(n)}
        order, back = order_nodes(list(kept), edges, [n for n in self.inputs if n in kept])
        return FlatGraph(
            kept,
            edges,
            list(self.inputs),
            list(self.outputs),
            order,
            back,
            self.dt,
            dict(self.delays),
            dict(self.metadata),
            shapes,
        )


def _endpoint(graph: nir.NIRGraph, name: str, side: str) -> str:
    """An edge end, resolved through nested graphs to their unique Input/Output (``side``)."""
    if name in graph.nodes and not isinstance(graph.nodes[name], nir.NIRGraph):
        return name
    head, _, tail = name.partition(".")
    sub = graph.nodes.get(head)
    if not isinstance(sub, nir.NIRGraph):
        raise GraphError(f"edge end {name!r} names no node; nodes are {sorted(graph.nodes)}")
    if tail:
        return f"{head}.{_endpoint(sub, tail, side)}"
    ends = [k for k, v in sub.nodes.items() if type(v).__name__ == side]
    if len(ends) != 1:
        raise GraphError(f"edge to nested graph {head!r} is ambiguous: it has {side} nodes {ends}; expected one")
    return f"{head}.{ends[0]}"


def _flatten(graph: nir.NIRGraph, prefix: str, reader: str) -> tuple[dict[str, Any], list[Edge]]:
    """Nodes and edges with nested graphs inlined; node types checked for ``reader``."""
    nodes: dict[str, Any] = {}
    edges: list[Edge] = []
    for name, node in graph.nodes.items():
        kind = check_kind(prefix + name, node, reader)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, f"{prefix}{name}.", reader)
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
        elif prefix and kind in ("Input", "Output"):
            nodes[prefix + name] = Port(kind)
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        edges.append((prefix + _endpoint(graph, a, "Output"), prefix + _endpoint(graph, b, "Input")))
    return nodes, edges


def flat_graph(
    source: Union[nir.NIRGraph, FlatGraph, str, Path], dt: Optional[float] = None, reader: str = "sim"
) -> FlatGraph:
    """Read, flatten, check and order a NIR graph (see the module docstring).

    Args:
        source: a ``nir.NIRGraph``, a ``.nir`` path, or an already flat graph (returned as is).
        dt: seconds per step; used when the graph metadata has no ``dt``, must agree otherwise.
        reader: "from_nir", "sim" or "hw": whose column of :data:`NODES` the node types must pass.

    Raises:
        GraphError: unreadable file, unsupported node, bad edge, no Input, unreachable node, bad dt,
            a Delay without dt or with a delay that is not a whole number of steps >= 0.
    """
    if isinstance(source, FlatGraph):
        return source
    graph = as_nir(source)
    step = graph_dt(graph, dt)
    nodes, edges = _flatten(graph, "", reader)
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise GraphError(f"edge ({a!r}, {b!r}) names unknown node {end!r}")
    inputs = [n for n, v in graph.nodes.items() if type(v).__name__ == "Input"]
    outputs = [n for n, v in graph.nodes.items() if type(v).__name__ == "Output"]
    if not inputs:
        raise GraphError(f"the graph has no Input node; it has nodes {sorted(graph.nodes)}")
    order, back = order_nodes(list(nodes), edges, inputs)
    for name, node in nodes.items():  # values before delays: a NaN delay is named as such
        check_node(name, node)
    delays = {n: delay_steps(v, n, step) for n, v in nodes.items() if type(v).__name__ == "Delay"}
    check_delays(delays, step)
    return FlatGraph(nodes, edges, inputs, outputs, order, back, step, delays, dict(graph.metadata or {}))
