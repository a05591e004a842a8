"""The simulator-vs-dense check: does an event-driven run reproduce the dense model's run?

``snnlab demo`` runs the trained torch model in float64 and the exported graph in the
event-driven simulator on the same inputs, then calls :func:`compare_runs`; the two must agree
spike for spike, and the readouts up to :data:`READOUT_ATOL` (the order of summation). The
dense side arrives as numpy arrays, so this module imports no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnlab.sim.result import SimResult

READOUT_ATOL = 1e-9  # float64 event-driven vs dense readout: equal up to the order of summation


def compare_runs(dense: dict[str, np.ndarray], readout: np.ndarray, result: SimResult) -> dict[str, Any]:
    """Step-for-step agreement of an event-driven run with the dense one.

    Args:
        dense: spikes ``(T, B, N)`` of each spiking layer of the torch model.
        readout: the torch model's outputs ``(T, B, C)``.
        result: the simulator's run on the same inputs, recording those layers.

    Returns:
        Agreement per layer (fraction of equal spike/no-spike entries), its minimum, the largest
        absolute readout difference, and the synaptic events against the dense MACs.
    """
    layers = {
        name: float((result.dense(name).reshape(ref.shape) == ref.astype(bool)).mean())
        for name, ref in dense.items()
        if name in result.spikes
    }
    out_name = next(p.name for p in result.plan.populations if p.op == "Output")
    sim_out = result.output(out_name).reshape(readout.shape)
    profile = result.activity_profile()
    events = sum(layer.synaptic_ops for layer in profile.layers if layer.kind == "synapse")
    dense_macs = result.batch * sum(layer.dense_ops for layer in profile.layers if layer.kind == "synapse")
    return {
        "layers": layers,
        "spike_agreement": min(layers.values(), default=float("nan")),
        "readout_max_abs_diff": float(np.abs(sim_out - readout).max()),
        "synaptic_events": float(events),
        "dense_macs": float(dense_macs),
        "event_fraction": float(events / dense_macs) if dense_macs else float("nan"),
    }


def identical(check: dict[str, Any], atol: float = READOUT_ATOL) -> bool:
    """Whether a :func:`compare_runs` result is an exact reproduction: every spike, readout within ``atol``."""
    return bool(check["spike_agreement"] == 1.0 and check["readout_max_abs_diff"] <= atol)
