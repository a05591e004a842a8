"""Dense reference executor: every NIR node evaluated with plain numpy matrix ops per step.

It reads the loaded graph directly (not the compiled plan), so it checks the compiler as
well as the kernels. Same discrete equations as docs/nir_conventions.md: forward Euler with
step ``dt``; a back (recurrent) edge carries the previous step's value; a Delay node's
history before step 0 is zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnlab.ir.graph import FlatGraph
from snnlab.ir.shapes import geometry


def is_available() -> bool:
    """The dense reference needs numpy only (the registry asks every backend)."""
    return True


def why_not() -> str:
    """Why the backend cannot run: never, see :func:`is_available`."""
    return ""


def conv2d_dense(x: np.ndarray, weight: np.ndarray, g: Any) -> np.ndarray:
    """Grouped, strided, dilated, padded 2-D convolution. x (B, C_in, H, W) -> (B, C_out, Ho, Wo)."""
    b = x.shape[0]
    xp = np.zeros((b, g.c_in, g.h + 2 * g.ph + g.kh * g.dh, g.w + 2 * g.pw + g.kw * g.dw), x.dtype)
    xp[:, :, g.ph : g.ph + g.h, g.pw : g.pw + g.w] = x
    out = np.zeros((b, g.c_out, g.h_out, g.w_out), x.dtype)
    cin_g, cout_g = g.c_in // g.groups, g.c_out // g.groups
    for grp in range(g.groups):
        xs = xp[:, grp * cin_g : (grp + 1) * cin_g]
        ws = weight[grp * cout_g : (grp + 1) * cout_g]  # (cout_g, cin_g, kh, kw)
        for ky in range(g.kh):
            for kx in range(g.kw):
                y0, x0 = ky * g.dh, kx * g.dw
                patch = xs[:, :, y0 : y0 + g.sh * g.h_out : g.sh, x0 : x0 + g.sw * g.w_out : g.sw]
                out[:, grp * cout_g : (grp + 1) * cout_g] += np.einsum("bchw,oc->bohw", patch, ws[:, :, ky, kx])
    return out


def pool_dense(x: np.ndarray, g: Any) -> np.ndarray:
    """Sum pooling (zero padding). x (B, C, H, W) -> (B, C, Ho, Wo)."""
    xp = np.zeros((x.shape[0], g.c_in, g.h + 2 * g.ph + g.kh, g.w + 2 * g.pw + g.kw), x.dtype)
    xp[:, :, g.ph : g.ph + g.h, g.pw : g.pw + g.w] = x
    out = np.zeros((x.shape[0], g.c_in, g.h_out, g.w_out), x.dtype)
    for ky in range(g.kh):
        for kx in range(g.kw):
            out += xp[:, :, ky : ky + g.sh * g.h_out : g.sh, kx : kx + g.sw * g.w_out : g.sw]
    return out


class DenseReference:
    """Engine interface (reset/advance/counts) over a :class:`FlatGraph`, dense numpy."""

    def __init__(self, graph: FlatGraph, dtype: np.dtype, record: dict[str, str]) -> None:
        self.g, self.dtype, self.record = graph, np.dtype(dtype), record
        self.delays = {
            n: graph.delay_steps(n).reshape(-1) for n, v in graph.nodes.items() if type(v).__name__ == "Delay"
        }
        self.t = 0
        self.reset(1)

    def reset(self, batch: int) -> None:
        """Zero state for ``batch`` samples."""
        self.batch, self.t = batch, 0
        size = lambda n: int(np.prod(self.g.out_shape[n]))  # noqa: E731
        self.prev = {n: np.zeros((batch, size(n)), self.dtype) for n in self.g.nodes}
        self.state: dict[str, dict[str, np.ndarray]] = {}
        for name, node in self.g.nodes.items():
            kind = type(node).__name__
            if kind in ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF"):
                v0 = getattr(node, "v_leak", None)
                if v0 is None:
                    soft = (node.metadata or {}).get("reset_mode") == "subtract"
                    v0 = 0.0 if soft or getattr(node, "v_reset", None) is None else node.v_reset
                self.state[name] = {
                    "v": self._param(v0, size(name)) + np.zeros((batch, 1), self.dtype),
                    "i": np.zeros((batch, size(name)), self.dtype),
                }
            if kind == "Delay":
                depth = int(self.delays[name].max()) + 1
                self.state[name] = {"hist": np.zeros((depth, batch, size(name)), self.dtype)}
        self.out_events = {n: 0.0 for n in self.g.nodes}

    def _param(self, value: Any, n: int) -> np.ndarray:
        arr = np.asarray(value, np.float64).reshape(-1)
        return np.broadcast_to(arr, (n,)).astype(self.dtype)

    def _input(self, name: str, cur: dict[str, np.ndarray]) -> np.ndarray:
        total = None
        for a in self.g.preds(name):
            val = self.prev[a] if (a, name) in self.g.back else cur[a]
            total = val.copy() if total is None else total + val
        return total if total is not None else np.zeros((self.batch, int(np.prod(self.g.in_shape[name]))), self.dtype)

    def _synapse(self, name: str, node: Any, x: np.ndarray) -> np.ndarray:
        kind = type(node).__name__
        b = x.shape[0]
        if kind in ("Affine", "Linear"):
            y = x @ np.asarray(node.weight, self.dtype).T
            return y + np.asarray(node.bias, self.dtype).reshape(-1) if kind == "Affine" else y
        if kind == "Scale":
            return x * self._param(node.scale, x.shape[1])
        g = geometry(node, name, self.g.in_shape[name])
        xs = x.reshape(b, g.c_in, g.h, g.w)
        if kind in ("Conv1d", "Conv2d"):
            w = np.asarray(node.weight, self.dtype).reshape(g.c_out, -1, g.kh, g.kw)
            y = conv2d_dense(xs, w, g) + np.asarray(node.bias, self.dtype).reshape(1, -1, 1, 1)
            return y.reshape(b, -1)
        y = pool_dense(xs, g).reshape(b, -1)
        return y / (g.kh * g.kw) if kind == "AvgPool2d" else y

    def _delay(self, name: str, x: np.ndarray) -> np.ndarray:
        hist, d = self.state[name]["hist"], self.delays[name]
        depth = hist.shape[0]
        hist[self.t % depth] = x
        d = np.broadcast_to(d, (x.shape[1],))
        return hist[(self.t - d) % depth, :, np.arange(x.shape[1])].T * (self.t >= d)

    def _neuron(self, name: str, node: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kind, n, dt = type(node).__name__, x.shape[1], self.g.dt
        if kind == "Threshold":
            return (x >= self._param(node.threshold, n)).astype(self.dtype), x
        st = self.state[name]
        r = self._param(node.r, n)
        if kind in ("I", "IF"):
            st["v"] = st["v"] + dt * r * x
        else:
            if kind.startswith("Cuba"):
                a_syn = dt / self._param(node.tau_syn, n)
                st["i"] = st["i"] + a_syn * (self._param(node.w_in, n) * x - st["i"])
                x = st["i"]
            tau = self._param(node.tau if kind in ("LI", "LIF") else node.tau_mem, n)
            st["v"] = st["v"] + dt / tau * (self._param(node.v_leak, n) - st["v"] + r * x)
        if kind in ("I", "LI", "CubaLI"):
            return st["v"].copy(), st["v"]
        th = self._param(node.v_threshold, n)
        spk = st["v"] >= th
        if (node.metadata or {}).get("reset_mode") == "subtract":
            st["v"] = st["v"] - th * spk
        else:
            st["v"] = np.where(spk, self._param(0.0 if node.v_reset is None else node.v_reset, n), st["v"])
        return spk.astype(self.dtype), st["v"]

    def advance(self, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Run the steps of x (T, B, N_in); return per-node outputs and membranes (T, B, N)."""
        outs = {n: [] for n, k in self.record.items() if "s" in k}
        mems = {n: [] for n, k in self.record.items() if "m" in k}
        for step in range(x.shape[0]):
            cur, col, memb = {}, 0, {}
            for name in self.g.order:
                node, kind = self.g.nodes[name], type(self.g.nodes[name]).__name__
                if kind == "Input":
                    n = int(np.prod(self.g.out_shape[name]))
                    cur[name], col = x[step, :, col : col + n].astype(self.dtype), col + n
                    continue
                inp = self._input(name, cur)
                if kind == "Output":
                    cur[name] = inp
                elif kind == "Delay":
                    cur[name] = self._delay(name, inp)
                elif kind in ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF", "Threshold"):
                    cur[name], memb[name] = self._neuron(name, node, inp)
                else:
                    cur[name] = self._synapse(name, node, inp)
            for name in outs:
                outs[name].append(cur[name].copy())
            for name in mems:
                mems[name].append(memb[name].copy())
            for name, val in cur.items():
                self.out_events[name] += float(np.count_nonzero(val))
            self.prev, self.t = cur, self.t + 1
        stack = lambda d: {k: np.stack(v) for k, v in d.items()}  # noqa: E731
        return stack(outs), stack(mems)

    def counts(self) -> dict[str, np.ndarray]:
        """Nonzero outputs per node by name (synaptic events are not counted densely)."""
        return {"syn_events": None, "out_events": dict(self.out_events)}
