"""Event-driven kernels on the CPU (numba) over a packed plan (:mod:`snnlab.sim.packing`).

One compiled function runs ``T`` steps of every population for every sample; samples are
independent, so the outer loop is ``prange`` over the batch. Per step and population:
read the ring-buffer slot of this step, update the units (equations in
:mod:`snnlab.sim.plan`), clear the slot, collect the nonzero outputs, and scatter each of
them through the outgoing projections into the targets' ring buffers at slot
``(t + delay) % depth``: CSR rows for explicit synapses, the kernel footprint for
convolutions (no dense matrix).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import overload

from snnlab.sim import equations
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
    P_UNIFORM,
    Q_CD,
    Q_CONV,
    Q_CW,
    Q_DST,
    Q_IP,
    Q_KIND,
    Q_RCP,
)
from snnlab.sim.plan import CONST, CONV, NEURON, SOURCE, THRESHOLD

CHUNK = 64  # units per threshold check
_jit = numba.njit(cache=True, inline="always", error_model="numpy")
_current, _membrane, _drive = _jit(equations.current), _jit(equations.membrane), _jit(equations.drive)
_refractory_tick, _fires, _reset = _jit(equations.refractory_tick), _jit(equations.fires), _jit(equations.reset)
_conv_target = _jit(equations.conv_target)


def _at(a, j):
    """``a[j]`` for a per-unit array, ``a`` for a population-wide scalar (compiled per type)."""
    return a[j] if isinstance(a, np.ndarray) else a


@overload(_at, inline="always")
def _at_overload(a, j):
    if isinstance(a, types.Array):
        return lambda a, j: a[j]
    return lambda a, j: a


def _drive_at(ik, e_rev, v_b, j):
    """The drive of unit ``j``: a conductance when ``v_b`` is the membrane array, a current when None."""
    return ik if v_b is None else ik * (e_rev - v_b[j])


@overload(_drive_at, inline="always")
def _drive_at_overload(ik, e_rev, v_b, j):
    if isinstance(v_b, types.NoneType):
        return lambda ik, e_rev, v_b, j: _drive(ik, e_rev, 0.0, False)
    return lambda ik, e_rev, v_b, j: _drive(ik, e_rev, v_b[j], True)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _receptor(i_k, dec, gain, x_k, e_rev, v_b, c, first):
    """Update one synaptic variable of every unit and add its drive to ``c`` (set it when ``first``).

    ``v_b`` is the membrane for a conductance receptor and None for a current one (compiled apart).
    """
    if first:
        for j in range(i_k.size):
            ik = _current(i_k[j], _at(dec, j), _at(gain, j), x_k[j])
            i_k[j] = ik
            c[j] = _drive_at(ik, _at(e_rev, j), v_b, j)
    else:
        for j in range(i_k.size):
            ik = _current(i_k[j], _at(dec, j), _at(gain, j), x_k[j])
            i_k[j] = ik
            c[j] += _drive_at(ik, _at(e_rev, j), v_b, j)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _input_sum(b, p, base, tab, syn, sel, cur, ring, v_b, c):
    """Input of NEURON population ``p``: the ring slot, or the summed drive ``c`` of its receptors."""
    off, n, ncur, cond = tab[p, P_OFF], tab[p, P_SIZE], tab[p, P_NCUR], tab[p, P_COND]
    ring_b = ring[b]
    if ncur == 0:
        return ring_b[base : base + n]
    for k in range(ncur):
        i_k, x_k = cur[b, k, off : off + n], ring_b[base + k * n : base + (k + 1) * n]
        if (cond >> k) & 1:
            _receptor(i_k, syn[0, k, sel], syn[1, k, sel], x_k, syn[2, k, sel], v_b, c, k == 0)
        else:
            _receptor(i_k, syn[0, k, sel], syn[1, k, sel], x_k, syn[2, k, sel], None, c, k == 0)
    return c[:n]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _integrate(c, v_b, r_b, a_leak, a_in, v_leak, u):
    """Refractory clocks, then the membrane candidate ``u`` (held where refractory).

    ``u`` is a separate array so that the select is a plain store (a masked store of ``v``
    into itself would keep LLVM from vectorising the loop).
    """
    for j in range(v_b.size):
        r_b[j] = _refractory_tick(r_b[j])
    for j in range(v_b.size):
        vv = v_b[j]
        upd = _membrane(vv, c[j], _at(a_leak, j), _at(a_in, j), _at(v_leak, j))
        u[j] = upd if r_b[j] == 0 else vv


@numba.njit(cache=True, inline="always", error_model="numpy")
def _threshold(v_b, r_b, u, v_th, j0, j1):
    """Store the new membrane of units ``j0..j1`` and count those that fire.

    The loop runs over views from index 0: an index that numba cannot prove non-negative (a
    range from ``j0``) gets a wraparound check that keeps LLVM from vectorising the loop
    (1.3 vs 0.12 ns per unit).
    """
    v_c, r_c, u_c, th_c = v_b[j0:j1], r_b[j0:j1], u[j0:j1], _chunk(v_th, j0, j1)
    hits = 0
    for j in range(v_c.size):
        vn = u_c[j]
        v_c[j] = vn
        hits += _fires(vn, _at(th_c, j), r_c[j])
    return hits


def _chunk(a, j0, j1):
    """``a[j0:j1]`` for a per-unit array, ``a`` for a population-wide scalar (compiled per type)."""
    return a[j0:j1] if isinstance(a, np.ndarray) else a


@overload(_chunk, inline="always")
def _chunk_overload(a, j0, j1):
    if isinstance(a, types.Array):
        return lambda a, j0, j1: a[j0:j1]
    return lambda a, j0, j1: a


@numba.njit(cache=True, inline="always", error_model="numpy")
def _units(b, p, base, tab, unit, syn, sel, refrac, v, cur, refr, ring, scratch, act_i, act_v, rec_m, tt):
    """The update of :func:`_neuron`; parameters are read as ``unit[:, sel]``, ``syn[:, :, sel]``."""
    off, n = tab[p, P_OFF], tab[p, P_SIZE]
    v_b, r_b, u = v[b, off : off + n], refr[b, off : off + n], scratch[b, 1, :n]
    c = _input_sum(b, p, base, tab, syn, sel, cur, ring, v_b, scratch[b, 0])
    _integrate(c, v_b, r_b, unit[0, sel], unit[1, sel], unit[2, sel], u)
    v_th, v_reset, soft, spiking = unit[3, off : off + n], unit[4, off : off + n], tab[p, P_SOFT], tab[p, P_SPIKING]
    na = 0
    for j0 in range(0, n, CHUNK):
        j1 = min(j0 + CHUNK, n)
        if _threshold(v_b, r_b, u, unit[3, sel], j0, j1) == 0 or not spiking:
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
def _neuron(b, p, base, tab, unit, syn, refrac, v, cur, refr, ring, scratch, act_i, act_v, rec_m, tt):
    """Update the units of NEURON population ``p`` for sample ``b``; return the active count.

    Every loop is free of branches (vectorisable): currents, refractory clocks, membrane, and
    a threshold check that stores the new membrane and counts hits per chunk of ``CHUNK``
    units; only chunks with a hit are walked again to reset and collect the spikes. A
    population whose parameters are the same for every unit (``P_UNIFORM``) reads them as
    scalars: ``sel`` is then the index of its first unit instead of a slice over its units.
    """
    off, n = tab[p, P_OFF], tab[p, P_SIZE]
    if tab[p, P_UNIFORM]:
        return _units(b, p, base, tab, unit, syn, off, refrac, v, cur, refr, ring, scratch, act_i, act_v, rec_m, tt)
    sel = slice(off, off + n)
    return _units(b, p, base, tab, unit, syn, sel, refrac, v, cur, refr, ring, scratch, act_i, act_v, rec_m, tt)


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
def _scatter_csr(
    b, t, q, na, tab, ptab, seg_ptr, seg_start, seg_delay, seg_first, indices, weights, ring, act_i, act_v
):
    """Add ``weight * value`` of every active unit's synapses into the target ring slots.

    The synapses of a unit come in segments of one delay (see :mod:`snnlab.sim.packing`): the
    slot is computed once per segment, and a segment of consecutive targets is one contiguous
    update.
    """
    dst, rcp = ptab[q, Q_DST], ptab[q, Q_RCP]
    dn, depth = tab[dst, P_SIZE], tab[dst, P_DEPTH]
    dbase, stride, ip = tab[dst, P_RING] + rcp * dn, tab[dst, P_NREC] * dn, ptab[q, Q_IP]
    events, now = 0, t % depth
    ring_b = ring[b]
    for a in range(na):
        i, val = act_i[b, a], act_v[b, a]
        g0, g1 = seg_ptr[ip + i], seg_ptr[ip + i + 1]
        events += seg_start[g1] - seg_start[g0]
        for g in range(g0, g1):
            slot = now + seg_delay[g]
            slot = slot - depth if slot >= depth else slot
            row = ring_b[dbase + slot * stride : dbase + slot * stride + dn]
            s0, s1, first = seg_start[g], seg_start[g + 1], seg_first[g]
            if first >= 0:  # consecutive targets: a contiguous, vectorisable update
                _axpy(row[first : first + s1 - s0], weights[s0:s1], val)
            else:
                idx, w = indices[s0:s1], weights[s0:s1]  # views from 0 (see _threshold)
                for s in range(idx.size):
                    row[idx[s]] += w[s] * val
    return events


@numba.njit(cache=True, inline="always", error_model="numpy")
def _axpy(y, w, val):
    """``y += w * val`` element by element (the same float operations as the scatter)."""
    for k in range(y.size):
        y[k] += w[k] * val


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
    seg_ptr,
    seg_start,
    seg_delay,
    seg_first,
    indices,
    weights,
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

    Shapes: x (T, B, N_in); v, refr (B, N); cur (B, R, N); ring (B, N_ring); scratch (B, 2, N_max);
    act_* (B, N_max);
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
                            b,
                            t,
                            q,
                            na,
                            tab,
                            ptab,
                            seg_ptr,
                            seg_start,
                            seg_delay,
                            seg_first,
                            indices,
                            weights,
                            ring,
                            act_i,
                            act_v,
                        )


@numba.njit(cache=True, inline="always", error_model="numpy")
def _record(b, p, tt, na, tab, act_i, act_v, rec_s, rec_v):
    if tab[p, P_REC] >= 0:
        for a in range(na):
            rec_s[tt, b, tab[p, P_REC] + act_i[b, a]] = 1
    if tab[p, P_RECV] >= 0:
        for a in range(na):
            rec_v[tt, b, tab[p, P_RECV] + act_i[b, a]] = act_v[b, a]
