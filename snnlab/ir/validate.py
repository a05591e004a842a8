"""Values of NIR nodes checked when a graph is read, before any reader allocates or computes.

:func:`snnlab.ir.graph.flat_graph` calls :func:`check_nodes` on every graph it reads, so
``from_nir``, the simulator, the hardware backend and export reject the same faults with the
same one-line :class:`~snnlab.errors.GraphError`:

- every number of every parameter is finite (NaN or Inf in a weight, tau, threshold, scale);
- time constants (``tau``, ``tau_syn``, ``tau_mem``) are > 0;
- the bias of an Affine / Conv node has one entry per output (row of the weight / output
  channel), and weights have the rank their node type needs;
- delays stay within :data:`MAX_DELAY_STEPS` steps (a bound of the ring buffers readers
  allocate: one slot per step of delay per synapse).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnlab.errors import GraphError

MAX_DELAY_STEPS = 100_000
SKIP = ("input_type", "output_type", "metadata")
TIME_CONSTANTS = ("tau", "tau_syn", "tau_mem")
WEIGHT_RANK = {"Affine": 2, "Linear": 2, "Conv1d": 3, "Conv2d": 4}


def _array(value: Any) -> np.ndarray | None:
    """``value`` as a float array when it is numeric (a scalar, list or array), else None."""
    if isinstance(value, (bool, str, bytes, dict)) or value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr


def _check_field(name: str, kind: str, key: str, arr: np.ndarray) -> None:
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        first = arr.reshape(-1)[int(np.argmax(~np.isfinite(arr).reshape(-1)))]
        raise GraphError(
            f"node {name!r} ({kind}): field {key} holds {bad} non-finite value(s) (first {first}); "
            "valid: finite numbers"
        )
    if key in TIME_CONSTANTS and arr.size and arr.min() <= 0:
        raise GraphError(
            f"node {name!r} ({kind}): field {key} has a value {arr.min():g} <= 0; valid: time constants > 0 seconds"
        )


def _check_shapes(name: str, kind: str, node: Any) -> None:
    weight = _array(getattr(node, "weight", None))
    if weight is None or kind not in WEIGHT_RANK:
        return
    if weight.ndim != WEIGHT_RANK[kind]:
        raise GraphError(f"node {name!r} ({kind}): weight has shape {weight.shape}; valid: {WEIGHT_RANK[kind]}-D")
    bias = _array(getattr(node, "bias", None))
    if bias is None:
        return
    outputs = weight.shape[0]
    if bias.size != outputs and not (bias.size == 1 and bias.ndim == 0):
        raise GraphError(
            f"node {name!r} ({kind}): bias has {bias.size} entries but the weight has {outputs} "
            f"outputs; valid: one bias per output ({outputs})"
        )


def check_node(name: str, node: Any) -> None:
    """All checks of one node (see the module docstring)."""
    kind = type(node).__name__
    fields = getattr(node, "__dataclass_fields__", None)
    if not fields:
        return
    for key in fields:
        if key in SKIP:
            continue
        arr = _array(getattr(node, key, None))
        if arr is not None:
            _check_field(name, kind, key, arr)
    _check_shapes(name, kind, node)


def check_delays(delays: dict[str, np.ndarray], dt: float | None) -> None:
    """Delays within :data:`MAX_DELAY_STEPS` steps."""
    for name, steps in delays.items():
        if steps.size and int(steps.max()) > MAX_DELAY_STEPS:
            raise GraphError(
                f"node {name!r} (Delay): a delay of {int(steps.max()):,} steps (dt={dt:g} s) exceeds "
                f"{MAX_DELAY_STEPS:,}; valid: delays up to {MAX_DELAY_STEPS:,} steps "
                f"({MAX_DELAY_STEPS * (dt or 0):g} s)"
            )


def check_nodes(nodes: dict[str, Any], delays: dict[str, np.ndarray], dt: float | None) -> None:
    """Every node of a flattened graph, then its delays.

    Raises:
        GraphError: naming the node, its field and what is valid.
    """
    for name, node in nodes.items():
        check_node(name, node)
    check_delays(delays, dt)
