"""Activity measures of early-exit runs.

Counting itself is :class:`snnlab.analysis.hooks.ActivityRecorder` (one set of NeuroBench
rules for the whole project); this module only derives the paper's activity measure from it.
"""

from __future__ import annotations

from snnlab.ir.activity import ActivityProfile


def spikes_per_neuron(profile: ActivityProfile) -> float:
    """Spikes per neuron per inference, over all spiking layers (the paper's activity measure)."""
    totals = profile.totals()
    return totals["spikes"] / max(totals["n_neurons"] * profile.samples, 1)
