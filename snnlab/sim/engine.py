"""State holders that drive the kernels: the numba CPU engine (the CUDA one mirrors it).

An engine owns the packed plan, the state of ``B`` samples, the absolute step counter and
the running counts; :meth:`NumbaEngine.advance` runs ``T`` steps and returns what was
recorded: per population its outputs ``(T, B, N)`` (uint8 spikes or real values) and its
membrane traces ``(T, B, N)``.
"""

from __future__ import annotations

import numpy as np

from snnlab.sim.kernels import run_steps
from snnlab.sim.packing import INDEX, P_REC, P_RECM, P_RECV, pack
from snnlab.sim.plan import Plan


class NumbaEngine:
    """Runs a :class:`Plan` with :func:`snnlab.sim.kernels.run_steps`."""

    def __init__(self, plan: Plan, dtype: np.dtype, record: dict[str, str]) -> None:
        self.plan, self.dtype = plan, np.dtype(dtype)
        self.packed, self.rec_sizes = pack(plan, self.dtype, record)
        self.t = 0
        self.reset(1)

    def reset(self, batch: int) -> None:
        """Fresh state for ``batch`` samples at step 0."""
        pk, b = self.packed, batch
        self.v = np.repeat(pk.unit[5][None], b, axis=0)  # (B, N) initial membrane
        self.cur = np.zeros((b, pk.n_currents, pk.n_units), self.dtype)  # (B, R, N)
        self.refr = np.zeros((b, pk.n_units), INDEX)
        self.ring = np.zeros((b, pk.n_ring), self.dtype)  # (B, sum depth*receptors*N)
        self.act_i = np.zeros((b, pk.n_max), np.int64)
        self.act_v = np.zeros((b, pk.n_max), self.dtype)
        self.scratch = np.zeros((b, 2, pk.n_max), self.dtype)  # summed currents, membrane candidate
        self.cnt_syn = np.zeros((b, len(self.plan.projections)), np.float64)
        self.cnt_out = np.zeros((b, len(self.plan.populations)), np.float64)
        self.t = 0

    def _buffers(self, steps: int, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sz = self.rec_sizes
        return (
            np.zeros((steps, batch, sz["s"]), np.uint8),
            np.zeros((steps, batch, sz["v"]), self.dtype),
            np.zeros((steps, batch, sz["m"]), self.dtype),
        )

    def advance(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Run ``x.shape[0]`` steps of input ``x`` (T, B, N_in); return (outputs, membranes)."""
        pk = self.packed
        steps, batch = x.shape[0], self.v.shape[0]
        rec_s, rec_v, rec_m = self._buffers(steps, batch)
        cnt_syn = np.zeros_like(self.cnt_syn)
        run_steps(
            self.t,
            x,
            pk.pop_tab,
            pk.unit,
            pk.syn,
            pk.refractory,
            pk.proj_tab,
            pk.seg_ptr,
            pk.seg_start,
            pk.seg_delay,
            pk.seg_first,
            pk.indices,
            pk.weights,
            pk.conv_tab,
            pk.conv_w,
            pk.conv_d,
            self.v,
            self.cur,
            self.refr,
            self.ring,
            self.scratch,
            self.act_i,
            self.act_v,
            rec_s,
            rec_v,
            rec_m,
            cnt_syn,
            self.cnt_out,
        )
        self.cnt_syn[:, pk.proj_order] += cnt_syn  # packed order -> plan order
        self.t += steps
        return split_records(self.plan, pk.pop_tab, rec_s, rec_v, rec_m)

    def counts(self) -> dict[str, np.ndarray]:
        """Totals over samples: synaptic events per projection, nonzero outputs per population."""
        return {"syn_events": self.cnt_syn.sum(0), "out_events": self.cnt_out.sum(0)}


def split_records(
    plan: Plan, pop_tab: np.ndarray, rec_s: np.ndarray, rec_v: np.ndarray, rec_m: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Cut the record buffers into per-population arrays (T, B, N)."""
    outputs: dict[str, np.ndarray] = {}
    membranes: dict[str, np.ndarray] = {}
    for i, pop in enumerate(plan.populations):
        n = pop.size
        if pop_tab[i, P_REC] >= 0:
            outputs[pop.name] = rec_s[:, :, pop_tab[i, P_REC] : pop_tab[i, P_REC] + n]
        if pop_tab[i, P_RECV] >= 0:
            outputs[pop.name] = rec_v[:, :, pop_tab[i, P_RECV] : pop_tab[i, P_RECV] + n]
        if pop_tab[i, P_RECM] >= 0:
            membranes[pop.name] = rec_m[:, :, pop_tab[i, P_RECM] : pop_tab[i, P_RECM] + n]
    return outputs, membranes
