"""What a simulation run returns: sparse spikes, values, membrane traces, counts, profile."""

from __future__ import annotations

from typing import Any

import numpy as np

from snnlab.ir.activity import ActivityProfile, LayerActivity
from snnlab.sim.plan import CONV, NEURON, RELAY, SOURCE, THRESHOLD, Plan, Population, Projection


class SimResult:
    """Recorded activity of one run of ``batch`` samples over ``steps`` steps.

    Attributes:
        spikes: spiking population -> int64 array (K, 3) of (t, sample, neuron), t absolute.
        values: non-spiking recorded population -> (T, B, N) real outputs (e.g. LI readouts).
        v: population -> (T, B, N) membrane potential after the reset of each step.
        counts: "synaptic_events" per projection, "spikes" and "neuron_updates" per population.
    """

    def __init__(
        self,
        plan: Plan,
        outputs: dict[str, np.ndarray],
        membranes: dict[str, np.ndarray],
        counts: dict[str, np.ndarray],
        steps: int,
        batch: int,
        dt: float | None,
        t0: int = 0,
    ) -> None:
        self.plan, self.steps, self.batch, self.dt, self.t0 = plan, steps, batch, dt, t0
        self.spikes: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        self.shapes = {p.name: p.shape for p in plan.populations}
        for name, arr in outputs.items():
            if plan.populations[plan.index(name)].spiking:
                t, b, n = np.nonzero(arr)
                self.spikes[name] = np.stack([t + t0, b, n], axis=1).astype(np.int64)
            else:
                self.values[name] = np.asarray(arr)
        self.v = dict(membranes)
        self.raw_counts = counts
        self.counts = self._named_counts(counts)

    def _named_counts(self, counts: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        pops, projs = self.plan.populations, self.plan.projections
        total = (self.t0 + self.steps) * self.batch
        return {
            "synaptic_events": {q.name: float(c) for q, c in zip(projs, counts["syn_events"]) if q.op != "bias"},
            "spikes": {p.name: float(c) for p, c in zip(pops, counts["out_events"]) if p.spiking},
            "neuron_updates": {p.name: float(p.size * total) for p in pops if p.model in (NEURON, THRESHOLD)},
        }

    def dense(self, name: str | None = None) -> np.ndarray:
        """Spikes of ``name`` (default: the first output) as bool (T, B, *shape)."""
        name = name or next(iter(self.spikes))
        if name not in self.spikes:
            raise KeyError(f"no spikes recorded for {name!r}; recorded: {sorted(self.spikes)}")
        shape = self.shapes[name]
        out = np.zeros((self.steps, self.batch, int(np.prod(shape))), bool)
        s = self.spikes[name]
        out[s[:, 0] - self.t0, s[:, 1], s[:, 2]] = True
        return out.reshape((self.steps, self.batch) + tuple(shape))

    def output(self, name: str | None = None) -> np.ndarray:
        """Outputs of ``name`` (default: first recorded) as float (T, B, *shape), spikes or values."""
        name = name or next(iter(list(self.spikes) + list(self.values)))
        if name in self.values:
            return self.values[name].reshape((self.steps, self.batch) + tuple(self.shapes[name]))
        return self.dense(name).astype(np.float64)

    def total_synaptic_events(self) -> float:
        """Synaptic events (ACs + MACs) summed over projections."""
        return float(sum(self.counts["synaptic_events"].values()))

    def to_json(self) -> dict[str, Any]:
        """Counts and run facts as plain JSON types."""
        return {"steps": self.steps, "batch": self.batch, "dt": self.dt, "counts": self.counts}

    def activity_profile(self) -> ActivityProfile:
        """Per-layer counts in the :class:`~snnlab.ir.activity.ActivityProfile` contract (source "event")."""
        steps = self.t0 + self.steps
        layers: list[LayerActivity] = []
        out_events = self.raw_counts["out_events"]
        groups: dict[str, list[int]] = {}
        for qi, q in enumerate(self.plan.projections):
            if q.op not in ("bias", "identity"):
                groups.setdefault(q.name.split(":")[0], []).append(qi)
        for pi, pop in enumerate(self.plan.populations):
            if pop.model in (NEURON, THRESHOLD):
                layers.append(self._neuron_layer(pop, out_events[pi], steps))
        for layer_name, members in groups.items():
            layers.append(
                self._synapse_layer(
                    layer_name,
                    [self.plan.projections[m] for m in members],
                    [self.raw_counts["syn_events"][m] for m in members],
                    steps,
                )
            )
        return ActivityProfile(self.batch, steps, self.dt, layers, source="event")

    def _neuron_layer(self, pop: Population, events: float, steps: int) -> LayerActivity:
        denom = max(pop.size * steps * self.batch, 1)
        return LayerActivity(
            pop.name,
            "neuron",
            pop.op,
            n_neurons=pop.size,
            neuron_updates=float(pop.size * steps * self.batch),
            spikes=float(events) if pop.spiking else 0.0,
            output_rate=float(events) / denom if pop.spiking else 0.0,
            extra={"shape": list(pop.shape)},
        )

    def _synapse_layer(self, name: str, projs: list[Projection], events: list[float], steps: int) -> LayerActivity:
        pops = self.plan.populations
        srcs = [pops[q.src] for q in projs]
        binary = all(p.spiking for p in srcs)
        src_events = sum(self.raw_counts["out_events"][q.src] for q in projs)
        denom = max(sum(p.size for p in srcs) * steps * self.batch, 1)
        q0 = projs[0]
        n_in, n_out = pops[q0.src].size, pops[q0.dst].size
        dense = _dense_ops(q0, n_in, n_out) * steps
        total = float(sum(events))
        delays = sorted({int(d) for q in projs for d in np.unique(q.delays)}) if q0.delays is not None else [0]
        return LayerActivity(
            name,
            "synapse",
            q0.op,
            n_synapses=sum(q.n_synapses for q in projs),
            dense_ops=float(dense * len(projs)),
            macs=0.0 if binary else total,
            acs=total if binary else 0.0,
            input_rate=float(src_events) / denom,
            extra={
                "delays": delays[:64],
                "sources": [p.name for p in srcs],
                "relay_target": pops[q0.dst].model == RELAY and pops[q0.dst].op != "Output",
                "input_is_source": any(p.model == SOURCE for p in srcs),
            },
        )


def _dense_ops(q: Projection, n_in: int, n_out: int) -> int:
    """Multiply-accumulates per step of the same layer run densely (one sample)."""
    if q.kind == CONV:
        g = q.geometry
        return g.c_out * g.h_out * g.w_out * (g.c_in // g.groups) * g.kh * g.kw
    if q.op in ("Affine", "Linear"):
        return n_in * n_out
    return q.n_synapses
