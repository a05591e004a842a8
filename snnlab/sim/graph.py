"""Loading a NIR graph for simulation: flatten, validate, order, infer shapes.

A NIR graph is turned into a :class:`LoadedGraph`: nested graphs are flattened (inner
nodes are renamed ``<outer>.<inner>``), identity nodes (``Flatten``, the ``Input`` and
``Output`` nodes of nested graphs) are contracted away because every tensor is stored flat
in C order, nodes are put in a topological order in which the edges that close a cycle
(recurrent edges) are marked as *back* edges: a back edge carries the value of the previous
time step. Shapes (per sample, no batch, no time) are inferred node by node and checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nir
import numpy as np

from snnlab.errors import GraphError, ShapeError

NEURON_TYPES = ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold")
SYNAPSE_TYPES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Delay")
IDENTITY_TYPES = ("Flatten", "Identity")
SUPPORTED_TYPES = ("Input", "Output", "NIRGraph") + SYNAPSE_TYPES + IDENTITY_TYPES + NEURON_TYPES


@dataclass
class LoadedGraph:
    """A flat, ordered, shape-checked NIR graph."""

    nodes: dict[str, Any]  # name -> nir node (identities removed)
    edges: list[tuple[str, str]]
    order: list[str]  # topological order ignoring back edges
    back: set[tuple[str, str]]  # recurrent edges: carry the previous step's value
    in_shape: dict[str, tuple[int, ...]]  # per-sample input shape of every node
    out_shape: dict[str, tuple[int, ...]]  # per-sample output shape of every node
    dt: float  # seconds per step
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        """Names of the Input nodes, in order."""
        return [n for n in self.order if type(self.nodes[n]).__name__ == "Input"]

    @property
    def outputs(self) -> list[str]:
        """Names of the Output nodes, in order."""
        return [n for n in self.order if type(self.nodes[n]).__name__ == "Output"]

    def preds(self, name: str) -> list[str]:
        """Sources of the edges into ``name``."""
        return [a for a, b in self.edges if b == name]

    def succs(self, name: str) -> list[str]:
        """Targets of the edges out of ``name``."""
        return [b for a, b in self.edges if a == name]


def read_graph(source: nir.NIRGraph | str | Path) -> nir.NIRGraph:
    """A NIR graph from a graph object or a ``.nir`` file; GraphError when unreadable."""
    if isinstance(source, nir.NIRGraph):
        return source
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(2, "no such NIR file", str(path))
    try:
        return nir.read(str(path))
    except Exception as err:  # nir raises KeyError/OSError/ValueError on bad files
        raise GraphError(f"{path}: not a readable NIR graph ({type(err).__name__}: {err})") from err


def _endpoint(graph: nir.NIRGraph, name: str, kind: str) -> str:
    """Resolve an edge end that names a nested graph to its unique Input/Output node."""
    if name in graph.nodes and not isinstance(graph.nodes[name], nir.NIRGraph):
        return name
    head, _, tail = name.partition(".")
    sub = graph.nodes.get(head)
    if not isinstance(sub, nir.NIRGraph):
        raise GraphError(f"edge end {name!r} names no node; nodes are {sorted(graph.nodes)}")
    if tail:
        return f"{head}.{_endpoint(sub, tail, kind)}"
    ends = [k for k, v in sub.nodes.items() if type(v).__name__ == kind]
    if len(ends) != 1:
        raise GraphError(f"edge to nested graph {head!r} is ambiguous: it has {kind} nodes {ends}")
    return f"{head}.{ends[0]}"


def _flatten(graph: nir.NIRGraph, prefix: str, top: bool) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Flatten nested graphs; inner Input/Output nodes become identities."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED_TYPES:
            raise GraphError(
                f"node {prefix + name!r} has unsupported type {kind}; supported: {', '.join(SUPPORTED_TYPES)}"
            )
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, f"{prefix}{name}.", False)
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
        elif not top and kind in ("Input", "Output"):
            nodes[prefix + name] = "identity"
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        edges.append((prefix + _endpoint(graph, a, "Output"), prefix + _endpoint(graph, b, "Input")))
    return nodes, edges


def _order(names: list[str], edges: list[tuple[str, str]], starts: list[str]) -> tuple[list[str], set]:
    """Depth-first order: back edges close cycles; the rest gives a topological order."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        succ[a].append(b)
    state = dict.fromkeys(names, 0)  # 0 new, 1 on stack, 2 done
    post: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in starts + names:
        if state[root]:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                post.append(node)
            elif state[nxt] == 1:
                back.add((node, nxt))
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return post[::-1], back


def _contract(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Remove identity nodes, joining each of their sources to each of their targets."""
    edges = list(edges)
    for name in [n for n, v in nodes.items() if _is_identity(v)]:
        ins = [a for a, b in edges if b == name]
        outs = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e] + [(a, b) for a in ins for b in outs]
    return list(dict.fromkeys(edges))


def _is_identity(node: Any) -> bool:
    return isinstance(node, str) or type(node).__name__ in IDENTITY_TYPES


def graph_dt(graph: nir.NIRGraph, dt: float | None) -> float:
    """The step in seconds: graph metadata ``dt`` when present, else ``dt``; error if neither."""
    meta_dt = (graph.metadata or {}).get("dt")
    if meta_dt is not None:
        meta_dt = float(np.asarray(meta_dt).reshape(-1)[0])
        if dt is not None and abs(float(dt) - meta_dt) > 1e-12 * max(meta_dt, 1.0):
            raise GraphError(f"dt={dt} contradicts the graph metadata dt={meta_dt}; leave dt= unset")
        dt = meta_dt
    if dt is None:
        raise GraphError("the graph has no metadata 'dt': pass dt= (seconds per step, CLI --dt), e.g. dt=1e-3")
    if not np.isfinite(dt) or dt <= 0:
        raise GraphError(f"dt must be a positive number of seconds, got {dt}")
    return float(dt)


def load_graph(source: nir.NIRGraph | str | Path, dt: float | None = None) -> LoadedGraph:
    """Read, flatten, contract, order and shape-check a NIR graph.

    Args:
        source: a ``nir.NIRGraph`` or a path to a ``.nir`` file.
        dt: seconds per step, used when the graph metadata has no ``dt``.

    Returns:
        The graph ready for :mod:`snnlab.sim.compile` and :mod:`snnlab.sim.reference`.
    """
    from snnlab.sim.shapes import infer_shapes

    graph = read_graph(source)
    step = graph_dt(graph, dt)
    nodes, edges = _flatten(graph, "", True)
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise GraphError(f"edge ({a!r}, {b!r}) names unknown node {end!r}")
    names = list(nodes)
    starts = [n for n in names if type(nodes[n]).__name__ == "Input"]
    if not starts:
        raise GraphError("the graph has no Input node")
    order, back = _order(names, edges, starts)
    in_shape, out_shape = infer_shapes(nodes, edges, order, back)
    edges = _contract(nodes, edges)
    kept = {n: v for n, v in nodes.items() if not _is_identity(v)}
    order, back = _order(list(kept), edges, [n for n in starts if n in kept])
    return LoadedGraph(kept, edges, order, back, in_shape, out_shape, step, dict(graph.metadata or {}))


def check_same_size(edge: tuple[str, str], got: tuple[int, ...], want: tuple[int, ...]) -> None:
    """ShapeError when the values on ``edge`` do not have the size its target expects."""
    if int(np.prod(got)) != int(np.prod(want)):
        raise ShapeError(
            f"edge {edge[0]!r} -> {edge[1]!r}: source gives shape {tuple(got)} "
            f"but {edge[1]!r} expects {tuple(want)}"
        )
