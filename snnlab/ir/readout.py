"""Rewrite a graph's leaky-integrator readout as a LIF or IF node that never fires.

snnTorch's and spikingjelly's NIR importers have no ``LI`` node, so a graph whose output layer
is snnlab's (non-spiking) LI readout does not load there. A non-spiking readout has no spiking
equivalent that keeps the decision, so the rewrite keeps the *membrane* and makes spikes
impossible (``v_threshold`` = :data:`NEVER_FIRES`): the class is read from the readout's membrane
state in the peer, as snnlab reads its LI output.

- ``lif``: ``LIF`` with the LI's ``tau``, ``r`` and ``v_leak`` (``v_reset = v_leak``). Below the
  threshold a LIF *is* the LI, so its membrane equals snnlab's readout at every step and every
  decision (mean, sum of softmax, last step) is kept exactly (up to a known scale in peers that
  treat ``r`` their own way, see docs/export.md).
- ``if``: ``IF`` with ``r = 1 / dt`` (one unit of current per step, the snnlab IF convention):
  its membrane is the running sum of the readout's input current, i.e. an LI without leak. For
  an LI with ``decay_input`` and ``tau`` steps, ``sum_t v_LI[t] = sum_t I[t] - (tau - 1) v_LI[T]``,
  so the IF's final membrane gives the same class as the ``mean`` score only as ``tau -> 1`` or for
  long sequences; use ``lif`` whenever the peer reads LIF.

nir + numpy only (no torch), so it applies to any graph file, snnlab's or not.
"""

from __future__ import annotations

import nir
import numpy as np

from snnlab.errors import GraphError

READOUTS = ("li", "if", "lif")
NEVER_FIRES = 1e9  # the threshold of the rewritten readout (snnlab's own readout LIFs use the same bound)


def readout_nodes(graph: nir.NIRGraph) -> list[str]:
    """Names of the neuron nodes that feed an ``Output`` node directly."""
    outputs = {name for name, node in graph.nodes.items() if isinstance(node, nir.Output)}
    return sorted({src for src, dst in graph.edges if dst in outputs and src not in outputs})


def _as_lif(node: nir.LI) -> nir.LIF:
    meta = {**(node.metadata or {}), "reset_mode": "zero", "snnlab.readout": "li as lif"}
    v_leak = np.asarray(node.v_leak, dtype=np.float64)
    return nir.LIF(
        tau=np.asarray(node.tau, dtype=np.float64),
        r=np.asarray(node.r, dtype=np.float64),
        v_leak=v_leak,
        v_threshold=np.full(v_leak.shape, NEVER_FIRES),
        v_reset=v_leak.copy(),
        metadata=meta,
    )


def _as_if(node: nir.LI, dt: float) -> nir.IF:
    shape = np.asarray(node.tau).shape
    meta = {**(node.metadata or {}), "reset_mode": "zero", "snnlab.readout": "li as if"}
    return nir.IF(
        r=np.full(shape, 1.0 / dt), v_threshold=np.full(shape, NEVER_FIRES), v_reset=np.zeros(shape), metadata=meta
    )


def with_readout(graph: nir.NIRGraph, readout: str, dt: float | None = None) -> nir.NIRGraph:
    """``graph`` with its LI readout node(s) rewritten as ``readout`` (``li`` returns it unchanged).

    Args:
        graph: a NIR graph whose output is fed by neuron nodes.
        readout: ``li``, ``if`` or ``lif``.
        dt: seconds per step for ``if`` (``r = 1/dt``); default: the graph's metadata ``dt``.

    Raises:
        GraphError: an unknown ``readout``; no LI node feeds the output (a spiking readout is
            kept as it is when it already is the requested kind); ``if`` without a dt.
    """
    if readout not in READOUTS:
        raise GraphError(f"--readout: unknown readout {readout!r}; valid: {', '.join(READOUTS)}")
    if readout == "li":
        return graph
    wanted = nir.LIF if readout == "lif" else nir.IF
    names = readout_nodes(graph)
    lis = [n for n in names if isinstance(graph.nodes[n], nir.LI)]
    if not lis:
        kinds = ", ".join(f"{n} ({type(graph.nodes[n]).__name__})" for n in names) or "none"
        if names and all(isinstance(graph.nodes[n], wanted) for n in names):
            return graph
        raise GraphError(f"--readout {readout}: no LI readout feeds the graph output (readout nodes: {kinds})")
    if readout == "if":
        dt = dt if dt is not None else (graph.metadata or {}).get("dt")
        if not isinstance(dt, (int, float)) or not dt > 0:
            raise GraphError("--readout if: the graph has no metadata dt; pass --dt SECONDS")
    nodes = dict(graph.nodes)
    for name in lis:
        nodes[name] = _as_lif(nodes[name]) if readout == "lif" else _as_if(nodes[name], float(dt))
    meta = {**(graph.metadata or {}), "snnlab.readout": readout}
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=meta)
