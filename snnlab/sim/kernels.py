"""Event-driven kernels on the CPU (numba) and the packing of a Plan into flat arrays.

One compiled function runs ``T`` steps of every population for every sample; samples are
independent, so the outer loop is ``prange`` over the batch. Per step and population:
read the ring-buffer slot of this step, update the units (equations in
:mod:`snnlab.sim.plan`), clear the slot, collect the nonzero outputs, and scatter each of
them through the outgoing projections into the targets' ring buffers at slot
``(t + delay) % depth``: CSR rows for explicit synapses, the kernel footprint for
convolutions (no dense matrix).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from snnlab.sim import equations
from snnlab.sim.plan import CONST, CONV, CSR, NEURON, RELAY, SOURCE, THRESHOLD, Plan

# columns of the population table
P_MODEL, P_OFF, P_SIZE, P_NREC, P_RING, P_DEPTH, P_SOFT, P_SPIKING = range(8)
P_COL, P_LO, P_HI, P_NCUR, P_REC, P_RECV, P_RECM = range(8, 15)
# columns of the projection table
Q_KIND, Q_SRC, Q_DST, Q_RCP, Q_IP, Q_SYN, Q_CONV, Q_CW, Q_CD = range(9)
_ = (CONST, CSR, RELAY)
CHUNK = 64  # units per threshold check
_jit = numba.njit(cache=True, inline="always", error_model="numpy")
_current, _membrane = _jit(equations.current), _jit(equations.membrane)
_refractory_tick, _fires, _reset = _jit(equations.refractory_tick), _jit(equations.fires), _jit(equations.reset)
_conv_target = _jit(equations.conv_target)


class Packed(NamedTuple):
    """A Plan as flat arrays (see the column constants above)."""

    pop_tab: np.ndarray  # (P, 15) int64
    unit: np.ndarray  # (6, N) a_leak, a_in, v_leak, v_th, v_reset, v_init
    syn: np.ndarray  # (2, R, N) decay, gain
    refractory: np.ndarray  # (N,) int64 steps
    proj_tab: np.ndarray  # (Q, 9) int64, sorted by source population
    proj_order: np.ndarray  # (Q,) plan index of each packed projection
    indptr: np.ndarray  # concatenated CSR row pointers
    indices: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    conv_tab: np.ndarray  # (C, 15) int64 geometry rows
    conv_w: np.ndarray
    conv_d: np.ndarray  # per output unit delays
    n_units: int
    n_ring: int
    n_max: int
    n_currents: int


def _pack_pops(plan: Plan, dtype: np.dtype, record: dict[str, str]) -> tuple:
    pops = plan.populations
    n_total = sum(p.size for p in pops)
    r_max = max([p.n_currents for p in pops] + [1])
    tab = np.full((len(pops), 15), -1, np.int64)
    unit = np.zeros((6, n_total), dtype)
    syn = np.zeros((2, r_max, n_total), dtype)
    refr = np.zeros(n_total, np.int64)
    off = ring = col = 0
    rec = {"s": 0, "v": 0, "m": 0}
    for i, p in enumerate(pops):
        depth = plan.depth(i)
        tab[i, :P_LO] = (p.model, off, p.size, p.receptors, ring, depth, int(p.soft_reset), int(p.spiking), col)
        tab[i, P_NCUR] = p.n_currents
        wanted = record.get(p.name, "")
        for col_, key, letter in ((P_REC if p.spiking else P_RECV, "s" if p.spiking else "v", "s"), (P_RECM, "m", "m")):
            if letter in wanted:
                tab[i, col_] = rec[key]
                rec[key] += p.size
        sl = slice(off, off + p.size)
        unit[:, sl] = np.stack([p.a_leak, p.a_in, p.v_leak, p.v_th, p.v_reset, p.v_init])
        syn[0, : p.n_currents, sl], syn[1, : p.n_currents, sl] = p.decay, p.gain
        refr[sl] = p.refractory
        off, ring = off + p.size, ring + depth * p.receptors * p.size
        col += p.size if p.model == SOURCE else 0
    return tab, unit, syn, refr, n_total, ring, rec, r_max


def pack(plan: Plan, dtype: np.dtype, record: dict[str, str] | None = None) -> tuple[Packed, dict[str, int]]:
    """Flatten a plan for the kernels.

    Args:
        plan: the populations and projections.
        dtype: float32 or float64, the dtype of state and weights.
        record: population name -> letters of what to record: "s" outputs, "m" membrane.

    Returns:
        The packed arrays and the sizes of the record buffers {"s", "v", "m"}.
    """
    tab, unit, syn, refr, n_total, n_ring, rec, r_max = _pack_pops(plan, dtype, record or {})
    order = np.array(sorted(range(len(plan.projections)), key=lambda q: plan.projections[q].src), np.int64)
    ptab = np.zeros((len(order), 9), np.int64)
    csr: dict[str, list] = {"indptr": [], "indices": [], "weights": [], "delays": []}
    conv: dict[str, list] = {"tab": [], "w": [], "d": []}
    sizes = {"indptr": 0, "indices": 0, "w": 0, "d": 0}
    for row, q in enumerate(order):
        proj = plan.projections[q]
        ptab[row, :Q_IP] = (proj.kind, proj.src, proj.dst, proj.receptor)
        if proj.kind == CSR:
            ptab[row, Q_IP], ptab[row, Q_SYN] = sizes["indptr"], sizes["indices"]
            for key in csr:
                csr[key].append(getattr(proj, key))
            sizes["indptr"] += proj.indptr.size
            sizes["indices"] += proj.indices.size
        else:
            ptab[row, Q_CONV], ptab[row, Q_CW], ptab[row, Q_CD] = len(conv["tab"]), sizes["w"], sizes["d"]
            conv["tab"].append(np.array(tuple(proj.geometry.__dict__.values()), np.int64))
            conv["w"].append(proj.kernel.reshape(-1))
            conv["d"].append(proj.delays)
            sizes["w"] += proj.kernel.size
            sizes["d"] += proj.delays.size
    for i in range(len(plan.populations)):
        rows = np.nonzero(ptab[:, Q_SRC] == i)[0]
        tab[i, P_LO], tab[i, P_HI] = (rows[0], rows[-1] + 1) if rows.size else (0, 0)
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(1, dt)  # noqa: E731
    packed = Packed(
        tab,
        unit,
        syn,
        refr,
        ptab,
        order,
        cat(csr["indptr"], np.int64),
        cat(csr["indices"], np.int64),
        cat(csr["weights"], dtype),
        cat(csr["delays"], np.int64),
        np.stack(conv["tab"]) if conv["tab"] else np.zeros((1, 15), np.int64),
        cat(conv["w"], dtype),
        cat(conv["d"], np.int64),
        n_total,
        n_ring,
        max(p.size for p in plan.populations),
        r_max,
    )
    return packed, rec


@numba.njit(cache=True, inline="always", error_model="numpy")
def _input_sum(b, p, base, tab, syn, cur, ring, c):
    """Input of NEURON population ``p``: the ring slot, or the sum of its updated currents."""
    off, n, ncur = tab[p, P_OFF], tab[p, P_SIZE], tab[p, P_NCUR]
    ring_b = ring[b]
    if ncur == 0:
        return ring_b[base : base + n]
    c[:n] = 0
    for k in range(ncur):
        i_k, dec, gain = cur[b, k, off : off + n], syn[0, k, off : off + n], syn[1, k, off : off + n]
        x_k = ring_b[base + k * n : base + (k + 1) * n]
        for j in range(n):
            ik = _current(i_k[j], dec[j], gain[j], x_k[j])
            i_k[j] = ik
            c[j] += ik
    return c[:n]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _neuron(b, p, base, tab, unit, syn, refrac, v, cur, refr, ring, scratch, act_i, act_v, rec_m, tt):
    """Update the units of NEURON population ``p`` for sample ``b``; return the active count.

    The membrane loop is free of branches (vectorisable); the threshold check counts hits per
    chunk of ``CHUNK`` units (vectorisable) and walks again only the chunks with a hit.
    """
    off, n = tab[p, P_OFF], tab[p, P_SIZE]
    c = _input_sum(b, p, base, tab, syn, cur, ring, scratch[b])
    v_b, r_b = v[b, off : off + n], refr[b, off : off + n]
    a_leak, a_in, v_leak = unit[0, off : off + n], unit[1, off : off + n], unit[2, off : off + n]
    v_th, v_reset, soft, spiking = unit[3, off : off + n], unit[4, off : off + n], tab[p, P_SOFT], tab[p, P_SPIKING]
    for j in range(n):
        rn = _refractory_tick(r_b[j])
        r_b[j] = rn
        vv = v_b[j]
        upd = _membrane(vv, c[j], a_leak[j], a_in[j], v_leak[j])
        v_b[j] = upd if rn == 0 else vv
    na = 0
    for j0 in range(0, n if spiking else 0, CHUNK):
        j1, hits = min(j0 + CHUNK, n), 0
        for j in range(j0, j1):
            hits += _fires(v_b[j], v_th[j], r_b[j])
        if hits == 0:
            continue
        for j in range(j0, j1):
            if _fires(v_b[j], v_th[j], r_b[j]):
                v_b[j] = _reset(v_b[j], v_th[j], v_reset[j], soft)
                r_b[j] = refrac[off + j]
                act_i[b, na] = j
                act_v[b, na] = 1.0
                na += 1
    if not spiking:
        for j in range(n):
            if v_b[j] != 0:
                act_i[b, na] = j
                act_v[b, na] = v_b[j]
                na += 1
    if tab[p, P_RECM] >= 0:
        rec_m[tt, b, tab[p, P_RECM] : tab[p, P_RECM] + n] = v_b
    return na


@numba.njit(cache=True, inline="always", error_model="numpy")
def _gather(b, p, base, tt, x, tab, unit, ring, act_i, act_v):
    """Outputs of a SOURCE/CONST/RELAY/THRESHOLD population: the active count."""
    model, n = tab[p, P_MODEL], tab[p, P_SIZE]
    if model == CONST:
        act_i[b, 0] = 0
        act_v[b, 0] = 1.0
        return 1
    na = 0
    for j in range(n):
        if model == SOURCE:
            val = x[tt, b, tab[p, P_COL] + j]
        elif model == THRESHOLD:
            val = 1.0 if ring[b, base + j] >= unit[3, tab[p, P_OFF] + j] else 0.0
        else:
            val = ring[b, base + j]
        if val != 0:
            act_i[b, na] = j
            act_v[b, na] = val
            na += 1
    return na


@numba.njit(cache=True, inline="always", error_model="numpy")
def _scatter_csr(b, t, q, na, tab, ptab, indptr, indices, weights, delays, ring, act_i, act_v):
    dst, rcp = ptab[q, Q_DST], ptab[q, Q_RCP]
    dn, depth = tab[dst, P_SIZE], tab[dst, P_DEPTH]
    dbase, stride = tab[dst, P_RING] + rcp * dn, tab[dst, P_NREC] * dn
    ip, so = ptab[q, Q_IP], ptab[q, Q_SYN]
    events, now = 0, t % depth
    ring_b = ring[b]
    for a in range(na):
        i, val = act_i[b, a], act_v[b, a]
        s0, s1 = so + indptr[ip + i], so + indptr[ip + i + 1]
        events += s1 - s0
        for s in range(s0, s1):
            slot = now + delays[s]
            slot = slot - depth if slot >= depth else slot
            ring_b[dbase + slot * stride + indices[s]] += weights[s] * val
    return events


@numba.njit(cache=True, inline="always", error_model="numpy")
def _scatter_conv(b, t, q, na, tab, ptab, conv_tab, conv_w, conv_d, ring, act_i, act_v):
    dst = ptab[q, Q_DST]
    dn, depth = tab[dst, P_SIZE], tab[dst, P_DEPTH]
    dbase, stride = tab[dst, P_RING] + ptab[q, Q_RCP] * dn, tab[dst, P_NREC] * dn
    g, cw, cd = conv_tab[ptab[q, Q_CONV]], ptab[q, Q_CW], ptab[q, Q_CD]
    h, w, kh, kw = g[1], g[2], g[6], g[7]
    cin_g, cout_g = g[0] // g[14], g[3] // g[14]
    events, now = 0, t % depth
    ring_b = ring[b]
    for a in range(na):
        i, val = act_i[b, a], act_v[b, a]
        c, y, x = i // (h * w), (i // w) % h, i % w
        grp, ci = c // cin_g, c % cin_g
        for o in range(grp * cout_g, (grp + 1) * cout_g):
            for ky in range(kh):
                for kx in range(kw):
                    u = _conv_target(y, x, o, ky, kx, g)
                    if u < 0:
                        continue
                    slot = now + conv_d[cd + u]
                    slot = slot - depth if slot >= depth else slot
                    ring_b[dbase + slot * stride + u] += conv_w[cw + ((o * cin_g + ci) * kh + ky) * kw + kx] * val
                    events += 1
    return events


@numba.njit(cache=True, parallel=True, error_model="numpy")
def run_steps(
    t0,
    x,
    tab,
    unit,
    syn,
    refrac,
    ptab,
    indptr,
    indices,
    weights,
    delays,
    conv_tab,
    conv_w,
    conv_d,
    v,
    cur,
    refr,
    ring,
    scratch,
    act_i,
    act_v,
    rec_s,
    rec_v,
    rec_m,
    cnt_syn,
    cnt_out,
):
    """Advance every sample by ``x.shape[0]`` steps starting at absolute step ``t0``.

    Shapes: x (T, B, N_in); v, refr (B, N); cur (B, R, N); ring (B, N_ring); scratch, act_* (B, N_max);
    rec_s/rec_v/rec_m (T, B, *); cnt_syn (B, Q); cnt_out (B, P).
    """
    for b in numba.prange(v.shape[0]):
        for tt in range(x.shape[0]):
            t = t0 + tt
            for p in range(tab.shape[0]):
                n = tab[p, P_SIZE]
                base = tab[p, P_RING] + (t % tab[p, P_DEPTH]) * tab[p, P_NREC] * n
                if tab[p, P_MODEL] == NEURON:
                    na = _neuron(
                        b, p, base, tab, unit, syn, refrac, v, cur, refr, ring, scratch, act_i, act_v, rec_m, tt
                    )
                else:
                    na = _gather(b, p, base, tt, x, tab, unit, ring, act_i, act_v)
                ring[b, base : base + tab[p, P_NREC] * n] = 0
                _record(b, p, tt, na, tab, act_i, act_v, rec_s, rec_v)
                cnt_out[b, p] += na
                for q in range(tab[p, P_LO], tab[p, P_HI]):
                    if ptab[q, Q_KIND] == CONV:
                        cnt_syn[b, q] += _scatter_conv(
                            b, t, q, na, tab, ptab, conv_tab, conv_w, conv_d, ring, act_i, act_v
                        )
                    else:
                        cnt_syn[b, q] += _scatter_csr(
                            b, t, q, na, tab, ptab, indptr, indices, weights, delays, ring, act_i, act_v
                        )


@numba.njit(cache=True, inline="always", error_model="numpy")
def _record(b, p, tt, na, tab, act_i, act_v, rec_s, rec_v):
    if tab[p, P_REC] >= 0:
        for a in range(na):
            rec_s[tt, b, tab[p, P_REC] + act_i[b, a]] = 1
    if tab[p, P_RECV] >= 0:
        for a in range(na):
            rec_v[tt, b, tab[p, P_RECV] + act_i[b, a]] = act_v[b, a]
