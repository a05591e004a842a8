"""NIR export and import: ``to_nir(model, dt)`` / ``from_nir(graph_or_path, dt=None)``, ``save`` / ``load``.

Graphs follow the project's NIR conventions (``docs/nir_conventions.md``): time constants in
seconds (``tau_s = tau_steps * dt``), forward Euler with step ``dt``, graph metadata ``dt``,
``time_unit``, ``writer``, ``snnlab_version``, and ``metadata["reset_mode"]`` per neuron node.

Exported: ``Linear`` (Affine/Linear), ``Conv1d``/``Conv2d`` (with ``input_shape``), ``AvgPool2d``
(``divisor_override=1`` and ``LPPool2d(1)`` as SumPool2d), ``Flatten``, BatchNorm folded into the
preceding synapse, Dropout/SeqDropout dropped, neurons IF, LIF, PLIF (LIF with its learned tau),
CubaLIF, LI (and a LIF readout with threshold >= 1e9), ``DelayedLinear`` as delay groups.
Not exportable (GraphError naming the layer): max pooling, ALIF, residual or other non-chain
forwards (give the model ``nir_layers()``).

``from_nir`` returns a time-major ``nn.Sequential`` for chains, else a ``GraphExecutor``
(converging edges summed, recurrent edges lagged one step). Snnlab files come back exactly.

Where peers fire the same spikes as snnlab (tests marked ``peers``):

- norse ``from_nir``: LIF (``decay_input=True``), IF, CubaLIF. It ignores LIF ``r`` (so not
  ``decay_input=False``), ``reset_mode`` (no soft reset for LIF/IF) and flattens with
  ``torch.nn.Flatten(start_dim)`` counted with the batch dim.
- snnTorch ``import_nir.import_from_nir``: LIF (both ``decay_input``) and CubaLIF with
  ``w_in = tau_syn`` and ``r = tau_mem`` (steps), only for graphs written with ``dt = 1e-4`` s,
  the value it hard-codes; hard reset only; it maps IF to a leaky neuron (beta 0.9) and
  requires IF ``r = 1``.
- spikingjelly ``nir_exchange.from_nir.import_from_nir(path, dt)``: LIF (both), IF, CubaLIF
  (``w_in = tau_syn``, ``r = tau_mem``, ``v_leak = 0``), Conv/AvgPool/Flatten graphs; hard
  reset only (a soft-reset node loads as reset to 0).
- Nobody else reads ``Delay`` nodes or snnlab's delay-group metadata.
- snnTorch and spikingjelly read no ``LI``: ``with_readout(graph, "lif")`` (``snnlab export
  --readout lif``) rewrites the LI readout as a LIF that never fires; read its membrane.

The flattened-graph type that sim and hw read lives in :mod:`snnlab.ir.graph` (nir + numpy
only); this package's names load lazily so that importing it pulls in no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "to_nir": "snnlab.ir.export",
    "from_nir": "snnlab.ir.importer",
    "load": "snnlab.ir.io",
    "save": "snnlab.ir.io",
    "flat_graph": "snnlab.ir.graph",
    "FlatGraph": "snnlab.ir.graph",
    "with_readout": "snnlab.ir.readout",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'snnlab.ir' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_NAMES))
