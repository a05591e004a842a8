"""Event-driven kernels on the GPU (numba-cuda): the step of :mod:`snnlab.sim.kernels`.

Same packed plan (:func:`snnlab.sim.packing.pack`), same unit equations
(:mod:`snnlab.sim.equations`), same ring buffers. Per step and population, in plan order:

1. ``_update``: one thread per (sample, unit) reads its ring slot, updates the unit, clears
   the slot, writes its output to ``out`` and records it;
2. ``_scatter_csr`` / ``_scatter_conv``: one thread per (sample, presynaptic unit); a unit
   whose output is nonzero is an event and adds ``weight * value`` to every target's ring
   slot ``(t + delay) % depth`` with atomics (CSR rows, or the convolution footprint).

On a GPU the arrays live on the device; under ``NUMBA_ENABLE_CUDASIM=1`` (tests, machines
without a GPU) they are numpy arrays. Atomics make the order of additions into one ring slot
vary between runs, so float results may differ from the CPU kernel by rounding; the spikes
of a float64 run are the same unless a membrane lands within rounding of its threshold.
Two launches per population and step make this path launch-bound for small networks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda

from snnlab.sim import equations
from snnlab.sim.engine import split_records
from snnlab.sim.packing import (
    P_COL,
    P_COND,
    P_DEPTH,
    P_HI,
    P_LO,
    P_MODEL,
    P_NCUR,
    P_NREC,
    P_OFF,
    P_REC,
    P_RECM,
    P_RECV,
    P_RING,
    P_SIZE,
    P_SOFT,
    P_SPIKING,
    Q_CD,
    Q_CONV,
    Q_CW,
    Q_DST,
    Q_IP,
    Q_KIND,
    Q_RCP,
    Q_SRC,
    Q_SYN,
    pack,
)
from snnlab.sim.plan import CONST, CONV, NEURON, SOURCE, THRESHOLD, Plan

THREADS = 128  # threads per block
SIMULATED = bool(config.ENABLE_CUDASIM)
_dev = cuda.jit(device=True, inline=True)
_current, _membrane, _drive = _dev(equations.current), _dev(equations.membrane), _dev(equations.drive)
_refractory_tick, _fires, _reset = _dev(equations.refractory_tick), _dev(equations.fires), _dev(equations.reset)
_conv_target = _dev(equations.conv_target)


def why_not() -> str:
    """``""`` with a usable CUDA GPU (and a numba-cuda that compiles beside this numpy) or under the
    CUDA simulator; otherwise why the cuda engine cannot run."""
    if not cuda.is_available():
        return "needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1"
    if SIMULATED:
        return ""
    from snnlab.kernels.registry import numpy_clash

    clash = numpy_clash()
    return f"cannot run here: {clash}" if clash else ""


def is_available() -> bool:
    """True with a usable CUDA GPU or under the CUDA simulator (see :func:`why_not`)."""
    return not why_not()


@cuda.jit(device=True)
def _neuron_unit(b, j, p, base, tab, unit, syn, refrac, v, cur, refr, ring):
    """One unit of NEURON population ``p``: returns its output (spike 0/1 or membrane)."""
    n, u, ncur = tab[p, P_SIZE], tab[p, P_OFF] + j, tab[p, P_NCUR]
    vv = v[b, u]
    c = ring[b, base + j]
    if ncur > 0:
        c = 0.0
        for k in range(ncur):
            ik = _current(cur[b, k, u], syn[0, k, u], syn[1, k, u], ring[b, base + k * n + j])
            cur[b, k, u] = ik
            c += _drive(ik, syn[2, k, u], vv, (tab[p, P_COND] >> k) & 1)
    rn = _refractory_tick(refr[b, u])
    refr[b, u] = rn
    if rn == 0:
        vv = _membrane(vv, c, unit[0, u], unit[1, u], unit[2, u])
    out = vv
    if tab[p, P_SPIKING]:
        out = 0.0
        if _fires(vv, unit[3, u], rn):
            out = 1.0
            vv = _reset(vv, unit[3, u], unit[4, u], tab[p, P_SOFT])
            refr[b, u] = refrac[u]
    v[b, u] = vv
    return out


@cuda.jit
def _update(t, tt, p, x, tab, unit, syn, refrac, v, cur, refr, ring, out, rec_s, rec_v, rec_m, cnt_out):
    """Step ``t`` of population ``p``: one thread per (sample, unit)."""
    idx = cuda.grid(1)
    n = tab[p, P_SIZE]
    if idx >= v.shape[0] * n:
        return
    b, j = idx // n, idx % n
    model, u, nrec = tab[p, P_MODEL], tab[p, P_OFF] + j, tab[p, P_NREC]
    base = tab[p, P_RING] + (t % tab[p, P_DEPTH]) * nrec * n
    if model == NEURON:
        val = _neuron_unit(b, j, p, base, tab, unit, syn, refrac, v, cur, refr, ring)
    elif model == SOURCE:
        val = x[tt, b, tab[p, P_COL] + j]
    elif model == THRESHOLD:
        val = 1.0 if ring[b, base + j] >= unit[3, u] else 0.0
    elif model == CONST:
        val = 1.0
    else:
        val = ring[b, base + j]
    for k in range(nrec):
        ring[b, base + k * n + j] = 0.0
    out[b, u] = val
    if tab[p, P_RECM] >= 0:
        rec_m[tt, b, tab[p, P_RECM] + j] = v[b, u]
    if val != 0:
        if tab[p, P_REC] >= 0:
            rec_s[tt, b, tab[p, P_REC] + j] = 1
        if tab[p, P_RECV] >= 0:
            rec_v[tt, b, tab[p, P_RECV] + j] = val
        cuda.atomic.add(cnt_out, (b, p), 1.0)


@cuda.jit(device=True)
def _event(idx, q, tab, ptab, out):
    """Thread ``idx`` of projection ``q``: whether it is in range, its (sample, presynaptic
    unit), the unit's output and the target's ring-buffer layout ``(depth, base, slot stride)``."""
    src, dst = ptab[q, Q_SRC], ptab[q, Q_DST]
    n = tab[src, P_SIZE]
    dn, depth = tab[dst, P_SIZE], tab[dst, P_DEPTH]
    dbase, stride = tab[dst, P_RING] + ptab[q, Q_RCP] * dn, tab[dst, P_NREC] * dn
    ok = idx < out.shape[0] * n
    j = idx if ok else 0
    b, i = j // n, j % n
    return ok, b, i, out[b, tab[src, P_OFF] + i], depth, dbase, stride


@cuda.jit
def _scatter_csr(t, q, tab, ptab, indptr, indices, weights, delays, out, ring, cnt_syn):
    """Events of projection ``q`` (CSR): one thread per (sample, presynaptic unit)."""
    ok, b, i, val, depth, dbase, stride = _event(cuda.grid(1), q, tab, ptab, out)
    if not ok or val == 0:
        return
    ip, so = ptab[q, Q_IP], ptab[q, Q_SYN]
    s0, s1 = so + indptr[ip + i], so + indptr[ip + i + 1]
    for s in range(s0, s1):
        slot = (t + delays[s]) % depth
        cuda.atomic.add(ring, (b, dbase + slot * stride + indices[s]), weights[s] * val)
    cuda.atomic.add(cnt_syn, (b, q), float(s1 - s0))


@cuda.jit
def _scatter_conv(t, q, tab, ptab, conv_tab, conv_w, conv_d, out, ring, cnt_syn):
    """Events of projection ``q`` (convolution footprint): one thread per (sample, input pixel)."""
    ok, b, i, val, depth, dbase, stride = _event(cuda.grid(1), q, tab, ptab, out)
    if not ok or val == 0:
        return
    g, cw, cd = conv_tab[ptab[q, Q_CONV]], ptab[q, Q_CW], ptab[q, Q_CD]
    h, w, kh, kw = g[1], g[2], g[6], g[7]
    cin_g, cout_g = g[0] // g[14], g[3] // g[14]
    c, y, x = i // (h * w), (i // w) % h, i % w
    grp, ci = c // cin_g, c % cin_g
    events = 0
    for o in range(grp * cout_g, (grp + 1) * cout_g):
        for ky in range(kh):
            for kx in range(kw):
                u = _conv_target(y, x, o, ky, kx, g)
                if u >= 0:
                    slot = (t + conv_d[cd + u]) % depth
                    wgt = conv_w[cw + ((o * cin_g + ci) * kh + ky) * kw + kx]
                    cuda.atomic.add(ring, (b, dbase + slot * stride + u), wgt * val)
                    events += 1
    cuda.atomic.add(cnt_syn, (b, q), float(events))


def _to_device(arr: np.ndarray) -> object:
    """A device copy on a GPU; the array itself under the simulator."""
    return arr if SIMULATED else cuda.to_device(np.ascontiguousarray(arr))


def _to_host(arr: object) -> np.ndarray:
    return np.asarray(arr) if SIMULATED else arr.copy_to_host()


class CudaEngine:
    """Runs a :class:`Plan` with the kernels above; the interface of :class:`~snnlab.sim.engine.NumbaEngine`."""

    def __init__(self, plan: Plan, dtype: np.dtype, record: dict[str, str]) -> None:
        self.plan, self.dtype = plan, np.dtype(dtype)
        self.packed, self.rec_sizes = pack(plan, self.dtype, record)
        pk = self.packed
        names = (
            "pop_tab",
            "unit",
            "syn",
            "refractory",
            "proj_tab",
            "indptr",
            "indices",
            "weights",
            "delays",
            "conv_tab",
            "conv_w",
            "conv_d",
        )
        self.dev = {k: _to_device(getattr(pk, k)) for k in names}
        self.t = 0
        self.reset(1)

    def reset(self, batch: int) -> None:
        """Fresh state for ``batch`` samples at step 0."""
        pk, b = self.packed, batch
        state = {
            "v": np.repeat(pk.unit[5][None], b, axis=0),
            "cur": np.zeros((b, pk.n_currents, pk.n_units), self.dtype),
            "refr": np.zeros((b, pk.n_units), np.int64),
            "ring": np.zeros((b, pk.n_ring), self.dtype),
            "out": np.zeros((b, pk.n_units), self.dtype),
            "cnt_syn": np.zeros((b, len(self.plan.projections)), np.float64),
            "cnt_out": np.zeros((b, len(self.plan.populations)), np.float64),
        }
        self.state = {k: _to_device(v) for k, v in state.items()}
        self.batch, self.t = b, 0

    def _step(self, t: int, tt: int, x: object, recs: tuple) -> None:
        """All populations of one step, in plan order."""
        d, s, tab = self.dev, self.state, self.packed.pop_tab
        for p in range(tab.shape[0]):
            blocks = math.ceil(self.batch * tab[p, P_SIZE] / THREADS)
            _update[blocks, THREADS](
                t,
                tt,
                p,
                x,
                d["pop_tab"],
                d["unit"],
                d["syn"],
                d["refractory"],
                s["v"],
                s["cur"],
                s["refr"],
                s["ring"],
                s["out"],
                *recs,
                s["cnt_out"],
            )
            for q in range(tab[p, P_LO], tab[p, P_HI]):
                if self.packed.proj_tab[q, Q_KIND] == CONV:
                    _scatter_conv[blocks, THREADS](
                        t,
                        q,
                        d["pop_tab"],
                        d["proj_tab"],
                        d["conv_tab"],
                        d["conv_w"],
                        d["conv_d"],
                        s["out"],
                        s["ring"],
                        s["cnt_syn"],
                    )
                else:
                    _scatter_csr[blocks, THREADS](
                        t,
                        q,
                        d["pop_tab"],
                        d["proj_tab"],
                        d["indptr"],
                        d["indices"],
                        d["weights"],
                        d["delays"],
                        s["out"],
                        s["ring"],
                        s["cnt_syn"],
                    )

    def advance(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Run ``x.shape[0]`` steps of input ``x`` (T, B, N_in); return (outputs, membranes)."""
        steps, sz = x.shape[0], self.rec_sizes
        host = (
            np.zeros((steps, self.batch, sz["s"]), np.uint8),
            np.zeros((steps, self.batch, sz["v"]), self.dtype),
            np.zeros((steps, self.batch, sz["m"]), self.dtype),
        )
        recs = tuple(_to_device(r) for r in host)
        xd = _to_device(np.ascontiguousarray(x, self.dtype))
        for tt in range(steps):
            self._step(self.t + tt, tt, xd, recs)
        self.t += steps
        rec_s, rec_v, rec_m = (_to_host(r) for r in recs)
        return split_records(self.plan, self.packed.pop_tab, rec_s, rec_v, rec_m)

    def counts(self) -> dict[str, np.ndarray]:
        """Totals over samples: synaptic events per projection (plan order), outputs per population."""
        cnt_syn = np.zeros(len(self.plan.projections))
        cnt_syn[self.packed.proj_order] = _to_host(self.state["cnt_syn"]).sum(0)
        return {"syn_events": cnt_syn, "out_events": _to_host(self.state["cnt_out"]).sum(0)}
