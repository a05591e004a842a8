"""``from_nir``: rebuild an executable time-major snnlab module from a NIR graph.

The graph is read as :class:`snnlab.ir.graph.FlatGraph` (nested graphs inlined, inner nodes
``<outer>.<inner>``; node types, dt and delays by the rules every reader shares); delay groups written by
snnlab collapse into one :class:`~snnlab.ir.delays.DelayGroupLinear`; every other node becomes
one module. A chain ``input -> ... -> output`` gives an ``nn.Sequential``; anything else
(branches, converging edges, cycles) gives a :class:`~snnlab.ir.executor.GraphExecutor`.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Union

import nir
import numpy as np
from torch import nn

from snnlab.errors import GraphError
from snnlab.ir import delays, layers, neurons
from snnlab.ir.executor import GraphExecutor
from snnlab.ir.graph import check_kind, delay_steps, flat_graph, need_dt, order_nodes

IDENTITY = ("Input", "Output", "Identity", "Port")


def node_module(node: Any, name: str, dt: Optional[float]) -> Optional[nn.Module]:
    """The time-major module of one node, None for identities."""
    kind = type(node).__name__
    if kind in IDENTITY:
        return None
    if kind in layers.LAYER_NODES:
        return layers.node_to_layer(node, name)
    if kind in neurons.NEURON_NODES:
        return neurons.node_to_neuron(node, name, need_dt(dt, f"node {name!r} ({kind})"))
    if kind == "Delay":
        return delays.DelayBuffer(delay_steps(node, name, dt))
    check_kind(name, node, "from_nir")
    raise GraphError(f"node {name!r}: type {kind} has no module in from_nir")


def _group_members(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Layer name -> its group synapse nodes, for snnlab delay groups."""
    groups: dict[str, list[str]] = {}
    for name, node in nodes.items():
        meta = getattr(node, "metadata", None) or {}
        if isinstance(node, (nir.Linear, nir.Affine)) and delays.LAYER_KEY in meta and delays.STEPS_KEY in meta:
            groups.setdefault(str(meta[delays.LAYER_KEY]), []).append(name)
    return groups


def _collapse_group(
    nodes: dict[str, Any], edges: list[tuple[str, str]], layer: str, members: list[str], dt: float, native: bool
) -> Optional[tuple[dict[str, Any], list[tuple[str, str]]]]:
    """The graph with one layer's groups replaced by a node ``layer``; None when they are not well formed."""
    preds = {m: sorted(a for a, b in edges if b == m) for m in members}
    succs = {m: [b for a, b in edges if a == m] for m in members}
    if len({tuple(p) for p in preds.values()}) != 1 or any(len(s) != 1 for s in succs.values()):
        return None
    delay_nodes = [succs[m][0] for m in members]
    for m, d in zip(members, delay_nodes):
        steps = int(np.asarray(nodes[m].metadata[delays.STEPS_KEY]).reshape(-1)[0])
        if not isinstance(nodes[d], nir.Delay) or np.any(delay_steps(nodes[d], d, dt) != steps):
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


def _as_chain(
    modules: dict[str, Optional[nn.Module]], edges: list[tuple[str, str]], inputs: list[str], outputs: list[str]
) -> Optional[nn.Sequential]:
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
    flat = flat_graph(graph_or_path, dt, reader="from_nir")
    inputs, outputs = flat.inputs, flat.outputs
    if not outputs:
        raise GraphError(f"the graph needs an Input and an Output node; it has nodes {sorted(flat.nodes)}")
    modules, edges = _modules(flat.nodes, flat.edges, flat.dt, inputs)
    order_nodes(list(modules), edges, inputs)  # reachability check before building anything
    model = _as_chain(modules, edges, inputs, outputs) or GraphExecutor(modules, edges, inputs, outputs)
    return model.eval()
