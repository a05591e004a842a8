"""The event-driven simulator: ``Simulator(graph, dt).run(inputs) -> SimResult``.

Inputs are dense frames ``(T, B, *input_shape)`` (real values allowed: each nonzero entry is
an event with that value) or DVS-style events turned into frames by :func:`events_to_frames`.
State persists between :meth:`Simulator.step` calls for streaming; :meth:`Simulator.run`
resets first unless told not to.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from snnlab.errors import ShapeError
from snnlab.sim import engines
from snnlab.sim.plan import SOURCE, Plan
from snnlab.sim.result import SimResult

log = logging.getLogger(__name__)


class Simulator:
    """Event-driven simulation of a NIR graph (or of a compiled :class:`Plan`).

    Args:
        graph: a ``nir.NIRGraph``, a path to a ``.nir`` file, or a :class:`Plan`.
        dt: seconds per step when the graph metadata has none.
        backend: "auto" (numba), "numba", "cuda" (numba-cuda) or "reference" (dense numpy): the
            engines registered as ``sim_engine`` in the backend registry (:mod:`snnlab.sim.engines`).
        dtype: float64 (exact) or float32 state and weights.
        record: extra populations whose outputs are recorded (Outputs always are).
        record_v: populations whose membrane potential is recorded.
    """

    def __init__(
        self,
        graph: Any,
        dt: float | None = None,
        backend: str = "auto",
        dtype: Any = np.float64,
        record: list[str] | None = None,
        record_v: list[str] | None = None,
    ) -> None:
        self.backend = engines.resolve(backend)
        self.loaded = None
        if isinstance(graph, Plan):
            self.plan = graph
        else:
            from snnlab.sim.compile import compile_graph, sim_graph

            self.loaded = sim_graph(graph, dt)
            self.plan = compile_graph(self.loaded)
        self.dt = self.plan.dt
        self.dtype = np.dtype(dtype)
        names = {p.name for p in self.plan.populations}
        for name in list(record or []) + list(record_v or []):
            if name not in names:
                raise KeyError(f"cannot record {name!r}: populations are {sorted(names)}")
        self.record = {p.name: "s" for p in self.plan.populations if p.op == "Output"}
        for name in record or []:
            self.record[name] = self.record.get(name, "") + "s"
        for name in record_v or []:
            self.record[name] = self.record.get(name, "") + "m"
        self._engine = engines.make_engine(self.backend, self.plan, self.loaded, self.dtype, self.record)
        self.batch = 0

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        """Per-sample shape of each input, in order."""
        return [p.shape for p in self.plan.populations if p.model == SOURCE]

    @property
    def output_names(self) -> list[str]:
        """Names of the Output nodes."""
        return [p.name for p in self.plan.populations if p.op == "Output"]

    def reset(self, batch: int = 1) -> None:
        """Zero the state for ``batch`` samples and restart time at step 0."""
        self.batch = int(batch)
        self._engine.reset(self.batch)

    def _frames(self, inputs: Any, steps: int | None) -> np.ndarray:
        """Inputs as one (T, B, N_in_total) array in the state dtype."""
        arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if isinstance(inputs, dict):
            srcs = [p.name for p in self.plan.populations if p.model == SOURCE]
            arrays = [inputs[name] for name in srcs]
        shapes = self.input_shapes
        if len(arrays) != len(shapes):
            raise ShapeError(f"the graph has {len(shapes)} inputs {shapes}, got {len(arrays)} arrays")
        flat = []
        for arr, shape in zip(arrays, shapes):
            arr = np.asarray(arr)
            if arr.ndim < 2 or int(np.prod(arr.shape[2:])) != int(np.prod(shape)):
                raise ShapeError(f"input of shape {arr.shape} does not match (T, B, *{shape})")
            flat.append(arr.reshape(arr.shape[0], arr.shape[1], -1))
        if not flat:
            x = np.zeros((steps or 0, self.batch or 1, 0), self.dtype)
        else:  # one input of the right dtype is used as it is (no copy)
            x = np.asarray(flat[0] if len(flat) == 1 else np.concatenate(flat, axis=2), self.dtype)
        if steps is not None and steps != x.shape[0]:
            pad = np.zeros((max(steps - x.shape[0], 0),) + x.shape[1:], self.dtype)
            x = np.concatenate([x, pad])[:steps]
        return np.ascontiguousarray(x)

    def step(self, input_t: Any) -> Any:
        """Advance one step; ``input_t`` is (B, *input_shape). Returns this step's output spikes (B, N)."""
        arrays = input_t if isinstance(input_t, (list, tuple, dict)) else [input_t]
        if isinstance(arrays, dict):
            arrays = {k: np.asarray(v)[None] for k, v in arrays.items()}
        else:
            arrays = [np.asarray(a)[None] for a in arrays]
        x = self._frames(arrays, None)
        if self.batch != x.shape[1]:
            self.reset(x.shape[1])
        out, _ = self._engine.advance(x)
        outs = {k: v[0] for k, v in out.items() if k in self.output_names}
        return outs[self.output_names[0]] if len(outs) == 1 else outs

    def run(self, inputs: Any, steps: int | None = None, reset: bool = True) -> SimResult:
        """Simulate ``inputs`` (T, B, *input_shape) for T (or ``steps``) steps.

        Returns:
            A :class:`SimResult` with sparse spikes of the recorded populations and the counts.
        """
        x = self._frames(inputs, steps)
        if reset or self.batch != x.shape[1]:
            self.reset(x.shape[1])
        t0 = self._engine.t
        out, membranes = self._engine.advance(x)
        return SimResult(self.plan, out, membranes, self._plan_counts(), x.shape[0], x.shape[1], self.dt, t0)

    def _plan_counts(self) -> dict[str, np.ndarray]:
        """Engine counts aligned with the plan (the dense reference counts outputs by node name)."""
        counts = self._engine.counts()
        if counts["syn_events"] is not None:
            return counts
        out = np.array([counts["out_events"].get(p.name, 0.0) for p in self.plan.populations])
        return {"syn_events": np.zeros(len(self.plan.projections)), "out_events": out}


def events_to_frames(events: Any, shape: tuple[int, int, int], steps: int, dt: float | None = None) -> np.ndarray:
    """DVS events (t, x, y, p) into dense frames (T, B, P, H, W) of event counts.

    Args:
        events: one structured array / dict with fields t, x, y, p, or a list of them (one per sample).
        shape: (P, H, W) polarity channels and sensor size.
        steps: number of steps T.
        dt: when given, ``t`` is in seconds and binned by ``dt``; else ``t`` is a step index.
    """
    samples = events if isinstance(events, (list, tuple)) else [events]
    frames = np.zeros((steps, len(samples)) + tuple(shape), np.float64)
    for b, ev in enumerate(samples):
        t = np.asarray(ev["t"], np.float64)
        t = np.floor(t / dt + 1e-9) if dt else t
        t, x, y, p = t.astype(np.int64), np.asarray(ev["x"], int), np.asarray(ev["y"], int), np.asarray(ev["p"], int)
        ok = (t >= 0) & (t < steps) & (x >= 0) & (x < shape[2]) & (y >= 0) & (y < shape[1]) & (p >= 0) & (p < shape[0])
        np.add.at(frames, (t[ok], b, p[ok], y[ok], x[ok]), 1.0)
    return frames


def load_inputs(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` input file (dense ``x`` or events ``t, x, y, p``)."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
