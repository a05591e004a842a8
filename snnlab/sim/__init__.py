"""Event-driven simulation of spiking networks: exact, sparse, per-synapse integer delays.

``Simulator(graph, dt=None, backend="auto").run(inputs) -> SimResult`` runs a NIR graph
(see docs/nir_conventions.md for the discretisation); :class:`Network` builds networks that
are not trained models (populations, connectivity rules, Poisson and spike-array sources).
"""

from __future__ import annotations

from snnlab.sim.network import Network, vogels_abbott_coba, vogels_abbott_cuba
from snnlab.sim.plan import Plan, Population, Projection
from snnlab.sim.result import SimResult
from snnlab.sim.simulator import Simulator, events_to_frames, load_inputs

__all__ = [
    "Network",
    "Plan",
    "Population",
    "Projection",
    "SimResult",
    "Simulator",
    "events_to_frames",
    "load_inputs",
    "vogels_abbott_coba",
    "vogels_abbott_cuba",
]
