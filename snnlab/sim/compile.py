"""Compile a NIR graph into a :class:`~snnlab.sim.plan.Plan`.

:func:`sim_graph` reads the graph as :class:`snnlab.ir.graph.FlatGraph` (one reader for sim, hw
and ``from_nir``) and contracts identity nodes away (``Flatten``, nested-graph ports) because
every tensor is stored flat in C order; :func:`compile_graph` turns it into a plan.

Populations are the Input and Output nodes, the neuron nodes, and *relays*: a synapse node
whose output feeds another synapse node (e.g. ``SumPool2d -> Conv2d``) is materialised as a
population that passes its summed input on, so that events merge there. Every other synapse
node becomes one projection per (source population, target population) pair. A ``Delay``
directly after a synapse node is fused into that node's synapse delays. Biases are
projections from a constant unit, so that they too go through delays and recurrent edges.
An edge that closes a cycle adds one step of delay (it carries the previous step's value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnlab.errors import GraphError
from snnlab.ir.graph import FlatGraph, flat_graph, kinds
from snnlab.ir.shapes import geometry
from snnlab.sim.plan import (
    CONST,
    CONV,
    NEURON,
    RELAY,
    SOURCE,
    THRESHOLD,
    Plan,
    Population,
    Projection,
    dense_to_csr,
    identity_csr,
    per_unit,
    pool_csr,
)

BIAS = "__bias__"
SYNAPSE_TYPES = kinds("weight") + kinds("pool") + kinds("scale") + kinds("delay")


def sim_graph(source: Any, dt: float | None = None) -> FlatGraph:
    """The flat, identity-free graph the simulator runs; GraphError when it has no ``dt``."""
    flat = flat_graph(source, dt, reader="sim")
    flat.require_dt("the simulator")
    return flat.contracted()


def _kind(node: Any) -> str:
    return type(node).__name__


def _alpha(node: Any, name: str, field: str, dt: float, n: int) -> np.ndarray:
    """dt / tau for a time-constant field; GraphError when dt > tau (unstable Euler)."""
    tau = per_unit(getattr(node, field), n)
    if np.any(tau <= 0) or np.any(dt > tau * (1 + 1e-9)):
        raise GraphError(
            f"node {name!r}: field {field} has {float(tau.min())} s < dt={dt} s; forward Euler needs "
            f"tau >= dt (use a smaller dt)"
        )
    return dt / tau


def _reset_mode(node: Any, name: str) -> bool:
    mode = (node.metadata or {}).get("reset_mode", "zero")
    mode = (
        mode.decode()
        if isinstance(mode, bytes)
        else str(np.asarray(mode).reshape(-1)[0])
        if not isinstance(mode, str)
        else mode
    )
    if mode not in ("zero", "subtract"):
        raise GraphError(f"node {name!r}: metadata reset_mode {mode!r} is not valid; use 'zero' or 'subtract'")
    return mode == "subtract"


def neuron_population(node: Any, name: str, n: int, shape: tuple[int, ...], dt: float) -> Population:
    """A NEURON/THRESHOLD population with the discrete parameters of a NIR neuron node."""
    kind = _kind(node)
    if kind == "Threshold":
        return Population(name, THRESHOLD, n, shape, kind, spiking=True, v_th=per_unit(node.threshold, n))
    spiking = kind in ("IF", "LIF", "CubaLIF")
    kw: dict[str, Any] = {"v_th": per_unit(node.v_threshold, n) if spiking else np.inf}
    if spiking:
        kw["v_reset"] = per_unit(0.0 if node.v_reset is None else node.v_reset, n)
        kw["soft_reset"] = _reset_mode(node, name)
    r = per_unit(node.r, n)
    if kind in ("I", "IF"):
        kw.update(a_leak=0.0, a_in=dt * r, v_init=kw.get("v_reset", 0.0) if not kw.get("soft_reset") else 0.0)
    else:
        field = "tau" if kind in ("LI", "LIF") else "tau_mem"
        a = _alpha(node, name, field, dt, n)
        kw.update(a_leak=a, a_in=a * r, v_leak=per_unit(node.v_leak, n), v_init=per_unit(node.v_leak, n))
    if kind in ("CubaLI", "CubaLIF"):
        a_syn = _alpha(node, name, "tau_syn", dt, n)
        kw.update(n_currents=1, decay=(1.0 - a_syn)[None], gain=(a_syn * per_unit(node.w_in, n))[None])
    return Population(name, NEURON, n, shape, kind, spiking=spiking, **kw)


def _linear_units(g: FlatGraph) -> dict[str, str]:
    """Map each synapse node to the node whose output it stands for (a fused Delay or itself)."""
    tail = {}
    for name, node in g.nodes.items():
        if _kind(node) not in SYNAPSE_TYPES:
            continue
        succ = g.succs(name)
        fuse = (
            len(succ) == 1
            and _kind(g.nodes[succ[0]]) == "Delay"
            and g.preds(succ[0]) == [name]
            and _kind(node) != "Delay"
        )
        tail[name] = succ[0] if fuse else name
    for fused in [t for h, t in tail.items() if t != h]:
        tail.pop(fused, None)
    return tail


def _op_parts(g: FlatGraph, head: str, tail: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """Projection fields of one synapse unit, its per-output delays and its per-output bias."""
    node, kind = g.nodes[head], _kind(g.nodes[head])
    n_in, n_out = int(np.prod(g.in_shape[head])), int(np.prod(g.out_shape[head]))
    delay = g.delay_steps(tail).reshape(-1) if tail != head else np.zeros(1, np.int64)
    delay = per_unit(delay, n_out, np.int64)
    bias = None
    if kind in ("Affine", "Linear"):
        parts = dict(zip(("indptr", "indices", "weights", "delays"), dense_to_csr(node.weight, delay)))
        bias = np.asarray(node.bias, np.float64).reshape(-1) if kind == "Affine" else None
    elif kind in ("Conv1d", "Conv2d"):
        geo = geometry(node, head, g.in_shape[head])
        kernel = np.asarray(node.weight, np.float64).reshape(geo.c_out, -1, geo.kh, geo.kw)
        parts = dict(kind=CONV, geometry=geo, kernel=kernel, delays=delay)
        bias = np.repeat(np.asarray(node.bias, np.float64).reshape(-1), geo.h_out * geo.w_out)
    elif kind in ("SumPool2d", "AvgPool2d"):
        geo = geometry(node, head, g.in_shape[head])
        scale = 1.0 / (geo.kh * geo.kw) if kind == "AvgPool2d" else 1.0
        indptr, indices, weights, _ = pool_csr(geo, scale)
        parts = dict(indptr=indptr, indices=indices, weights=weights, delays=delay[indices])
    elif kind == "Scale":
        parts = dict(zip(("indptr", "indices", "weights", "delays"), identity_csr(n_in, node.scale, delay)))
    else:  # Delay that follows a population directly
        own = g.delay_steps(head).reshape(-1)
        parts = dict(zip(("indptr", "indices", "weights", "delays"), identity_csr(n_in, 1.0, own)))
        delay = per_unit(own, n_out, np.int64)
    if bias is not None and not np.any(bias):
        bias = None
    return parts, delay, bias


def _population_of(g: FlatGraph, name: str, relay: bool) -> Population:
    node, shape = g.nodes[name], g.out_shape[name]
    n = int(np.prod(shape))
    kind = _kind(node)
    if relay:
        return Population(name, RELAY, n, shape, kind)
    if kind == "Input":
        return Population(name, SOURCE, n, shape, kind, spiking=True)
    if kind == "Output":
        return Population(name, RELAY, n, shape, kind)
    return neuron_population(node, name, n, shape, g.dt)


def compile_graph(g: FlatGraph) -> Plan:
    """Populations and projections of a loaded graph (see the module docstring)."""
    tails = _linear_units(g)
    fused = set(tails.values()) - set(tails)
    relays = {h for h, t in tails.items() if any(_kind(g.nodes[s]) in SYNAPSE_TYPES for s in g.succs(t))}
    plan = Plan(dt=g.dt, meta=dict(g.metadata))
    members = [n for n in g.order if n not in fused and (n not in tails or n in relays)]
    for name in members:
        plan.populations.append(_population_of(g, name, name in relays))
    for pos, pop in enumerate(p for p in plan.populations if p.model == SOURCE):
        pop.source_index = pos
    index = {p.name: i for i, p in enumerate(plan.populations)}
    fusion = {(h, t) for h, t in tails.items() if t != h}
    index.update({t: index[h] for h, t in fusion if h in relays})
    extra = lambda a, b: int((a, b) in g.back)  # noqa: E731 - one-step delay of a recurrent edge
    for a, b in g.edges:  # population -> population: identity projections
        if a in index and b in index and b not in relays and (a, b) not in fusion:
            csr = identity_csr(plan.populations[index[a]].size, 1.0, extra(a, b))
            plan.projections.append(_csr_projection(f"{a}->{b}", index[a], index[b], "identity", csr))
    for head, tail in tails.items():
        _add_unit(g, plan, index, head, tail, head in relays, extra)
    _mark_outputs(plan)
    return plan


def _csr_projection(name: str, src: int, dst: int, op: str, csr: tuple[np.ndarray, ...]) -> Projection:
    return Projection(name, src, dst, op=op, indptr=csr[0], indices=csr[1], weights=csr[2], delays=csr[3])


def _add_unit(g: FlatGraph, plan: Plan, index: dict[str, int], head: str, tail: str, relay: bool, extra: Any) -> None:
    """Projections (and bias) of one synapse unit ``head`` (..``tail`` when a Delay is fused)."""
    parts, delay, bias = _op_parts(g, head, tail)
    inner = extra(head, tail) if tail != head else 0
    targets = [(head, inner)] if relay else [(s, extra(tail, s) + inner) for s in g.succs(tail)]
    for src in g.preds(head):
        for dst, shift in targets:
            fields = dict(parts)
            fields["delays"] = fields["delays"] + shift + extra(src, head)
            name = head if len(targets) * len(g.preds(head)) == 1 else f"{head}:{src}->{dst}"
            plan.projections.append(Projection(name, index[src], index[dst], op=_kind(g.nodes[head]), **fields))
    if bias is None:
        return
    if BIAS not in index:
        plan.populations.insert(0, Population(BIAS, CONST, 1, (1,), "bias"))
        for proj in plan.projections:
            proj.src, proj.dst = proj.src + 1, proj.dst + 1
        for key in index:
            index[key] += 1
        index[BIAS] = 0
    for dst, shift in targets:
        n = bias.size
        csr = (np.array([0, n], np.int64), np.arange(n, dtype=np.int64), bias, delay + shift)
        plan.projections.append(_csr_projection(f"{head}.bias", 0, index[dst], "bias", csr))


def _mark_outputs(plan: Plan) -> None:
    """An Output (or relay) fed only by identity projections of spiking populations is spiking."""
    for i, pop in enumerate(plan.populations):
        if pop.model != RELAY:
            continue
        incoming = [q for q in plan.projections if q.dst == i]
        pop.spiking = bool(incoming) and all(q.op == "identity" and plan.populations[q.src].spiking for q in incoming)
