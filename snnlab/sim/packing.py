"""The packing of a :class:`~snnlab.sim.plan.Plan` into the flat arrays the kernels read.

Populations become rows of an int64 table (columns ``P_*``) plus per-unit parameter arrays;
projections become rows of a second table (columns ``Q_*``) plus concatenated synapse arrays.
CSR synapses are stored twice over one order: per synapse (``indices``, ``weights``,
``delays``, read by the CUDA kernels) and, for the CPU kernels, grouped by delay: the
synapses of each presynaptic unit are sorted by delay (stable, so that equal-delay synapses
keep their order and every float sum is unchanged) and cut into *segments* of one delay
each. A spike then computes its ring-buffer slot once per segment and walks ``indices`` /
``weights`` (int32 + float) without a per-synapse delay.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from snnlab.sim.plan import CSR, SOURCE, Plan

# columns of the population table
P_MODEL, P_OFF, P_SIZE, P_NREC, P_RING, P_DEPTH, P_SOFT, P_SPIKING = range(8)
P_COL, P_LO, P_HI, P_NCUR, P_REC, P_RECV, P_RECM, P_UNIFORM, P_COND = range(8, 17)
# columns of the projection table
Q_KIND, Q_SRC, Q_DST, Q_RCP, Q_IP, Q_SYN, Q_CONV, Q_CW, Q_CD = range(9)  # Q_IP: into indptr and seg_ptr
INDEX = np.int32  # synapse target index and refractory counters (half the bytes of int64)


class Packed(NamedTuple):
    """A Plan as flat arrays (see the column constants above)."""

    pop_tab: np.ndarray  # (P, 17) int64
    unit: np.ndarray  # (6, N) a_leak, a_in, v_leak, v_th, v_reset, v_init
    syn: np.ndarray  # (3, R, N) decay, gain, reversal potential (0 for a current receptor)
    refractory: np.ndarray  # (N,) int32 steps
    proj_tab: np.ndarray  # (Q, 9) int64, sorted by source population
    proj_order: np.ndarray  # (Q,) plan index of each packed projection
    indptr: np.ndarray  # (sum n_src+1,) int64 concatenated CSR row pointers
    indices: np.ndarray  # (S,) int32 target unit of each synapse
    weights: np.ndarray  # (S,)
    delays: np.ndarray  # (S,) int64 steps
    seg_ptr: np.ndarray  # (sum n_src+1,) int64 first segment of each presynaptic unit (absolute)
    seg_start: np.ndarray  # (G+1,) int64 first synapse of each segment (absolute); last entry = S
    seg_delay: np.ndarray  # (G+1,) int64 delay of each segment
    seg_first: np.ndarray  # (G+1,) int64 first target of a segment whose targets are consecutive, else -1
    conv_tab: np.ndarray  # (C, 15) int64 geometry rows
    conv_w: np.ndarray
    conv_d: np.ndarray  # per output unit delays
    n_units: int
    n_ring: int
    n_max: int
    n_currents: int


def delay_segments(indptr: np.ndarray, delays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort each CSR row by delay (stable) and cut it into runs of one delay.

    Args:
        indptr: (n_src+1,) row pointers; delays: (S,) steps.

    Returns:
        order (S,) the new synapse order, seg_ptr (n_src+1,) first segment of each row,
        seg_start (G,) first synapse of each segment, seg_delay (G,) its delay.
    """
    n_src = indptr.size - 1
    row = np.repeat(np.arange(n_src), np.diff(indptr))
    order = np.lexsort((delays, row))  # rows stay in place; within a row by delay, ties keep order
    d = delays[order]
    new = np.ones(d.size, bool)
    new[1:] = (row[1:] != row[:-1]) | (d[1:] != d[:-1])
    starts = np.flatnonzero(new)
    seg_ptr = np.zeros(n_src + 1, np.int64)
    np.cumsum(np.bincount(row[starts], minlength=n_src), out=seg_ptr[1:])
    return order, seg_ptr, starts.astype(np.int64), d[starts].astype(np.int64)


def _pack_pops(plan: Plan, dtype: np.dtype, record: dict[str, str]) -> tuple:
    pops = plan.populations
    n_total = sum(p.size for p in pops)
    r_max = max([p.n_currents for p in pops] + [1])
    tab = np.full((len(pops), 17), -1, np.int64)
    unit = np.zeros((6, n_total), dtype)
    syn = np.zeros((3, r_max, n_total), dtype)
    refr = np.zeros(n_total, INDEX)
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
        syn[2, : p.n_currents, sl] = np.nan_to_num(p.e_rev, nan=0.0)
        tab[i, P_COND] = p.conductances
        refr[sl] = p.refractory
        tab[i, P_UNIFORM] = _uniform(unit[:4, sl], syn[:, : p.n_currents, sl])
        off, ring = off + p.size, ring + depth * p.receptors * p.size
        col += p.size if p.model == SOURCE else 0
    return tab, unit, syn, refr, n_total, ring, rec, r_max


def _uniform(*params: np.ndarray) -> bool:
    """Whether every row of every (..., n) parameter array holds one value (read as scalars then)."""
    return all(bool(np.all(a == a[..., :1])) for a in params if a.shape[-1])


def consecutive_targets(indices: np.ndarray, seg_start: np.ndarray) -> np.ndarray:
    """Per segment: its first target when its targets are ``t, t+1, ...`` (a dense row), else -1.

    A spike then adds a contiguous slice of weights to a contiguous slice of the ring buffer,
    a loop that vectorises, instead of scattering (the rows of ``Linear`` weights are such).
    """
    if not seg_start.size:
        return np.zeros(0, np.int64)
    pos = np.arange(indices.size) - np.repeat(seg_start, np.diff(np.append(seg_start, indices.size)))
    base = indices.astype(np.int64) - pos  # equal to the first target along a consecutive segment
    lo, hi = np.minimum.reduceat(base, seg_start), np.maximum.reduceat(base, seg_start)
    return np.where(lo == hi, lo, -1)


def _pack_csr(proj: object, row: np.ndarray, csr: dict[str, list], sizes: dict[str, int]) -> None:
    """Append one CSR projection (its synapses in delay-segment order) and fill its table row."""
    order, seg_ptr, starts, seg_delay = delay_segments(proj.indptr, proj.delays)
    row[Q_IP], row[Q_SYN] = sizes["indptr"], sizes["indices"]
    csr["indptr"].append(proj.indptr)
    csr["indices"].append(proj.indices[order])
    csr["weights"].append(proj.weights[order])
    csr["delays"].append(proj.delays[order])
    csr["seg_ptr"].append(seg_ptr + sizes["segments"])
    csr["seg_start"].append(starts + sizes["indices"])
    csr["seg_delay"].append(seg_delay)
    csr["seg_first"].append(consecutive_targets(proj.indices[order], starts))
    sizes["indptr"] += proj.indptr.size
    sizes["indices"] += proj.indices.size
    sizes["segments"] += starts.size


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
    keys = ("indptr", "indices", "weights", "delays", "seg_ptr", "seg_start", "seg_delay", "seg_first")
    csr: dict[str, list] = {k: [] for k in keys}
    conv: dict[str, list] = {"tab": [], "w": [], "d": []}
    sizes = {"indptr": 0, "indices": 0, "segments": 0, "w": 0, "d": 0}
    for row, q in enumerate(order):
        proj = plan.projections[q]
        ptab[row, :Q_IP] = (proj.kind, proj.src, proj.dst, proj.receptor)
        if proj.kind == CSR:
            _pack_csr(proj, ptab[row], csr, sizes)
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
    csr["seg_start"].append(np.array([sizes["indices"]], np.int64))  # end of the last segment
    csr["seg_delay"].append(np.zeros(1, np.int64))
    csr["seg_first"].append(np.full(1, -1, np.int64))
    dtypes = {"indices": INDEX, "weights": dtype}
    flat = {k: _cat(v, dtypes.get(k, np.int64)) for k, v in csr.items()}
    packed = Packed(
        tab,
        unit,
        syn,
        refr,
        ptab,
        order,
        **flat,
        conv_tab=np.stack(conv["tab"]) if conv["tab"] else np.zeros((1, 15), np.int64),
        conv_w=_cat(conv["w"], dtype),
        conv_d=_cat(conv["d"], np.int64),
        n_units=n_total,
        n_ring=n_ring,
        n_max=max(p.size for p in plan.populations),
        n_currents=r_max,
    )
    return packed, rec


def _cat(parts: list, dtype: np.dtype) -> np.ndarray:
    """Concatenate ``parts`` as ``dtype`` (a one-element array when there are none)."""
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(1, dtype)
