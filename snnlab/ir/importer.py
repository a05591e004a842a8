"""``from_nir``: rebuild an executable time-major snnlab module from a NIR graph.

Nested graphs are flattened (inner nodes become ``<outer>.<inner>``); delay groups written by
snnlab collapse into one :class:`~snnlab.ir.delays.DelayGroupLinear`; every other node becomes
one module. A chain ``input -> ... -> output`` gives an ``nn.Sequential``; anything else
(branches, converging edges, cycles) gives a :class:`~snnlab.ir.executor.GraphExecutor`.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Union

import nir
import numpy as np
from torch import nn

from snnlab.errors import GraphError
from snnlab.ir import delays, layers, neurons
from snnlab.ir.executor import GraphExecutor, order_nodes

IDENTITY = ("Input", "Output", "Identity")
SUPPORTED = IDENTITY + layers.LAYER_NODES + neurons.NEURON_NODES + ("Delay",)


def flatten_graph(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges of ``graph`` with nested graphs inlined (their Input/Output kept as identities)."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ports: dict[str, tuple[str, str]] = {}  # subgraph name -> (its input node, its output node)
    for name, node in graph.nodes.items():
        full = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges = flatten_graph(node, f"{full}.")
            nodes.update(inner)
            edges.extend(inner_edges)
            ports[name] = (_port(node, "Input", full), _port(node, "Output", full))
        else:
            nodes[full] = node
    for a, b in graph.edges:
        src = ports[a][1] if a in ports else f"{prefix}{a}"
        dst = ports[b][0] if b in ports else f"{prefix}{b}"
        for end in (src, dst):
            if end not in nodes:
                raise GraphError(f"edge ({a!r}, {b!r}) names no node; nodes are {sorted(graph.nodes)}")
        edges.append((src, dst))
    return nodes, edges


def _port(sub: nir.NIRGraph, kind: str, full: str) -> str:
    names = [n for n, v in sub.nodes.items() if type(v).__name__ == kind]
    if len(names) != 1:
        raise GraphError(f"nested graph {full!r} has {len(names)} {kind} nodes; expected exactly one")
    return f"{full}.{names[0]}"


def graph_dt(graph: nir.NIRGraph, dt: Optional[float]) -> Optional[float]:
    """The step in seconds: metadata ``dt`` when present (``dt`` must agree), else ``dt``; may be None."""
    meta_dt = (graph.metadata or {}).get("dt")
    if meta_dt is not None:
        meta_dt = float(np.asarray(meta_dt).reshape(-1)[0])
        if dt is not None and not math.isclose(float(dt), meta_dt, rel_tol=1e-9):
            raise GraphError(f"dt={dt} contradicts the graph metadata dt={meta_dt}; leave dt= unset")
        dt = meta_dt
    if dt is not None and not (math.isfinite(dt) and dt > 0):
        raise GraphError(f"dt must be a positive number of seconds per step, got {dt!r}")
    return None if dt is None else float(dt)


def _need_dt(dt: Optional[float], name: str, kind: str) -> float:
    if dt is None:
        raise GraphError(f"node {name!r} ({kind}) needs a time step: the graph has no metadata 'dt', "
                         f"pass dt= (seconds per step, CLI --dt), e.g. dt=1e-3")
    return dt


def node_module(node: Any, name: str, dt: Optional[float]) -> Optional[nn.Module]:
    """The time-major module of one node, None for identities."""
    kind = type(node).__name__
    if kind in IDENTITY:
        return None
    if kind in layers.LAYER_NODES:
        return layers.node_to_layer(node, name)
    if kind in neurons.NEURON_NODES:
        return neurons.node_to_neuron(node, name, _need_dt(dt, name, kind))
    if kind == "Delay":
        return delays.DelayBuffer(delays.delay_steps(node, name, _need_dt(dt, name, kind)))
    raise GraphError(f"node {name!r}: type {kind} is not supported by from_nir; supported: {', '.join(SUPPORTED)}")


def _group_members(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Layer name -> its group synapse nodes, for snnlab delay groups."""
    groups: dict[str, list[str]] = {}
    for name, node in nodes.items():
        meta = getattr(node, "metadata", None) or {}
        if isinstance(node, (nir.Linear, nir.Affine)) and delays.LAYER_KEY in meta and delays.STEPS_KEY in meta:
            groups.setdefault(str(meta[delays.LAYER_KEY]), []).append(name)
    return groups


def _collapse_group(nodes: dict[str, Any], edges: list[tuple[str, str]], layer: str, members: list[str],
                    dt: float, native: bool) -> Optional[tuple[dict[str, Any], list[tuple[str, str]]]]:
    """The graph with one layer's groups replaced by a node ``layer``; None when they are not well formed."""
    preds = {m: sorted(a for a, b in edges if b == m) for m in members}
    succs = {m: [b for a, b in edges if a == m] for m in members}
    if len({tuple(p) for p in preds.values()}) != 1 or any(len(s) != 1 for s in succs.values()):
        return None
    delay_nodes = [succs[m][0] for m in members]
    for m, d in zip(members, delay_nodes):
        steps = int(np.asarray(nodes[m].metadata[delays.STEPS_KEY]).reshape(-1)[0])
        if not isinstance(nodes[d], nir.Delay) or np.any(delays.delay_steps(nodes[d], d, dt) != steps):
            return None
    gone = set(members) | set(delay_nodes)
    if layer in nodes and layer not in gone:
        return None
    outs = sorted({b for a, b in edges if a in delay_nodes})
    new_edges = [(a, b) for a, b in edges if a not in gone and b not in gone]
    new_edges += [(p, layer) for p in preds[members[0]]] + [(layer, o) for o in outs]
    new_nodes = {k: v for k, v in nodes.items() if k not in gone}
    new_nodes[layer] = delays.group_module(nodes, members, layer, native)
    return new_nodes, new_edges


def _modules(nodes: dict[str, Any], edges: list[tuple[str, str]], dt: Optional[float], inputs: list[str]):
    """Modules per node, delay groups collapsed (DelayedLinear in acyclic graphs, which run whole sequences)."""
    groups = _group_members(nodes, edges)
    native = not order_nodes(list(nodes), edges, inputs)[1]
    for layer, members in groups.items():
        if dt is None:
            break
        collapsed = _collapse_group(nodes, edges, layer, members, dt, native)
        if collapsed is not None:
            nodes, edges = collapsed
    modules = {n: v if isinstance(v, nn.Module) else node_module(v, n, dt) for n, v in nodes.items()}
    return modules, edges


def _as_chain(modules: dict[str, Optional[nn.Module]], edges: list[tuple[str, str]], inputs: list[str],
              outputs: list[str]) -> Optional[nn.Sequential]:
    if len(inputs) != 1 or len(outputs) != 1 or len(edges) != len(modules) - 1:
        return None
    nxt = dict(edges)
    if len(nxt) != len(edges):
        return None
    path, node = [inputs[0]], inputs[0]
    while node in nxt and len(path) <= len(modules):
        node = nxt[node]
        path.append(node)
    if node != outputs[0] or len(path) != len(modules):
        return None
    chain = [(n.replace(".", "_"), modules[n]) for n in path if modules[n] is not None]
    if len({n for n, _ in chain}) != len(chain):
        return None
    return nn.Sequential(OrderedDict(chain))


def from_nir(graph_or_path: Union[nir.NIRGraph, str, Path], dt: Optional[float] = None) -> nn.Module:
    """Rebuild a time-major module ``(T, B, ...) -> (T, B, ...)`` from a NIR graph or ``.nir`` file.

    Args:
        graph_or_path: a ``nir.NIRGraph`` or the path of a ``.nir`` file.
        dt: seconds per step; needed when the graph metadata has no ``dt`` (graphs written by
            other frameworks) and must agree with it otherwise.

    Returns:
        An ``nn.Sequential`` for a chain, else a :class:`GraphExecutor`; in evaluation mode.

    Raises:
        GraphError: an unsupported node type, a non-uniform neuron field, a missing ``dt``.
    """
    from snnlab.ir.io import load

    graph = graph_or_path if isinstance(graph_or_path, nir.NIRGraph) else load(graph_or_path)
    step = graph_dt(graph, dt)
    nodes, edges = flatten_graph(graph)
    inputs = [n for n in graph.nodes if isinstance(graph.nodes[n], nir.Input)]
    outputs = [n for n in graph.nodes if isinstance(graph.nodes[n], nir.Output)]
    if not inputs or not outputs:
        raise GraphError(f"the graph needs an Input and an Output node; it has nodes {sorted(graph.nodes)}")
    modules, edges = _modules(nodes, edges, step, inputs)
    order_nodes(list(modules), edges, inputs)  # reachability check before building anything
    model = _as_chain(modules, edges, inputs, outputs) or GraphExecutor(modules, edges, inputs, outputs)
    return model.eval()
