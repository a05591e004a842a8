"""Per-sample shape inference and checks for NIR nodes (no batch, no time dimension).

:class:`snnlab.ir.graph.FlatGraph` infers its shapes with :func:`infer_shapes`. Also holds
the geometry helpers shared by the simulator's compiler, its dense reference and hw:
convolution/pooling parameters normalised to 2-D (a ``Conv1d`` is a 2-D convolution of
height 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snnlab.errors import GraphError, ShapeError

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Geometry:
    """A 2-D sliding-window layer: input (C_in, H, W) -> output (C_out, H_out, W_out)."""

    c_in: int
    h: int
    w: int
    c_out: int
    h_out: int
    w_out: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int  # padding before (top)
    pw: int  # padding before (left)
    dh: int  # dilation
    dw: int
    groups: int


def _pair(value: Any, name: str, node: str) -> tuple[int, int]:
    arr = np.asarray(value).reshape(-1)
    if arr.size == 1:
        return int(arr[0]), int(arr[0])
    if arr.size != 2:
        raise GraphError(f"node {node!r}: field {name} must be an int or a pair, got {value!r}")
    return int(arr[0]), int(arr[1])


def _padding(pad: Any, k: tuple[int, int], dil: tuple[int, int], node: str) -> tuple[int, int]:
    if isinstance(pad, str):
        if pad == "valid":
            return 0, 0
        if pad == "same":
            return tuple((d * (kk - 1)) // 2 for kk, d in zip(k, dil))  # type: ignore[return-value]
        raise GraphError(f"node {node!r}: padding {pad!r} is not valid; use an int, a pair, 'same' or 'valid'")
    return _pair(pad, "padding", node)


def _out_len(n: int, k: int, s: int, p: int, d: int, same: bool) -> int:
    return n if same else (n + 2 * p - d * (k - 1) - 1) // s + 1


def geometry(node: Any, name: str, in_shape: Shape) -> Geometry:
    """Normalised 2-D geometry of a Conv1d/Conv2d/SumPool2d/AvgPool2d node."""
    kind = type(node).__name__
    one_d = kind == "Conv1d"
    size = int(np.prod(in_shape))
    if kind in ("Conv1d", "Conv2d"):
        weight = np.asarray(node.weight)
        c_out, c_in_g = int(weight.shape[0]), int(weight.shape[1])
        groups = int(np.asarray(node.groups).reshape(-1)[0]) if np.size(node.groups) else 1
        c_in = c_in_g * groups
        k = (1, int(weight.shape[2])) if one_d else (int(weight.shape[2]), int(weight.shape[3]))
        stride = (1, int(np.asarray(node.stride).reshape(-1)[0])) if one_d else _pair(node.stride, "stride", name)
        dil = (1, int(np.asarray(node.dilation).reshape(-1)[0])) if one_d else _pair(node.dilation, "dilation", name)
        pad_raw = (
            node.padding
            if isinstance(node.padding, str)
            else ((0, int(np.asarray(node.padding).reshape(-1)[0])) if one_d else node.padding)
        )
        pad = _padding(pad_raw, k, dil, name)
        same = isinstance(node.padding, str) and node.padding == "same"
    else:  # pooling
        k = _pair(node.kernel_size, "kernel_size", name)
        stride = _pair(node.stride, "stride", name)
        pad, dil, groups, same = _pair(node.padding, "padding", name), (1, 1), 1, False
        c_in = c_out = int(in_shape[0]) if len(in_shape) == 3 else 0
    spatial = _spatial(node, name, in_shape, size, c_in, one_d)
    h, w = spatial
    ho = _out_len(h, k[0], stride[0], pad[0], dil[0], same)
    wo = _out_len(w, k[1], stride[1], pad[1], dil[1], same)
    if ho < 1 or wo < 1:
        raise ShapeError(f"node {name!r}: input {tuple(in_shape)} is smaller than the kernel {k}")
    c_out = c_out if kind.startswith("Conv") else c_in
    return Geometry(c_in, h, w, c_out, ho, wo, k[0], k[1], stride[0], stride[1], pad[0], pad[1], dil[0], dil[1], groups)


def _spatial(node: Any, name: str, in_shape: Shape, size: int, c_in: int, one_d: bool) -> tuple[int, int]:
    """(H, W) of the input: from ``input_shape`` when the node has it, else from the source."""
    given = getattr(node, "input_shape", None)
    if given is not None and np.size(given):
        arr = np.asarray(given).reshape(-1)
        hw = (1, int(arr[-1])) if one_d else (int(arr[-2]), int(arr[-1]))
    elif len(in_shape) >= 2:
        hw = (1, int(in_shape[-1])) if one_d else (int(in_shape[-2]), int(in_shape[-1]))
    else:
        raise ShapeError(f"node {name!r}: cannot tell the spatial size of input {tuple(in_shape)}; set input_shape")
    c_in = c_in or (size // max(hw[0] * hw[1], 1))
    if c_in * hw[0] * hw[1] != size:
        raise ShapeError(f"node {name!r}: input of {size} values does not fit (C_in={c_in}, H={hw[0]}, W={hw[1]})")
    return hw


def _param_size(node: Any, fields: tuple[str, ...]) -> int:
    sizes = {int(np.size(getattr(node, f))) for f in fields if getattr(node, f, None) is not None}
    sizes.discard(1)
    return max(sizes) if sizes else 1


PARAM_FIELDS = {
    "I": ("r",),
    "IF": ("r", "v_threshold", "v_reset"),
    "LI": ("tau", "r", "v_leak"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "Threshold": ("threshold",),
    "Scale": ("scale",),
    "Delay": ("delay",),
}


def node_out_shape(node: Any, name: str, in_shape: Shape | None) -> Shape:
    """Output shape of ``node`` given its input shape (None when it has no forward source)."""
    kind = type(node).__name__
    if kind in ("Input", "Output"):
        key = "input" if kind == "Input" else "output"
        typ = node.input_type if kind == "Input" else node.output_type
        declared = tuple(int(s) for s in np.asarray(typ.get(key, typ.get(next(iter(typ))))).reshape(-1))
        return declared if kind == "Input" or in_shape is None else in_shape
    if in_shape is None:
        if kind in PARAM_FIELDS:
            return (_param_size(node, PARAM_FIELDS[kind]),)
        raise GraphError(f"node {name!r} ({kind}) has no forward input to tell its shape")
    size = int(np.prod(in_shape))
    if kind in ("Affine", "Linear"):
        weight = np.asarray(node.weight)
        if weight.ndim != 2 or weight.shape[1] != size:
            raise ShapeError(f"node {name!r}: weight {weight.shape} needs (out, {size}) for input {tuple(in_shape)}")
        return (int(weight.shape[0]),)
    if kind in ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"):
        g = geometry(node, name, in_shape)
        return (g.c_out, g.w_out) if kind == "Conv1d" else (g.c_out, g.h_out, g.w_out)
    if kind == "Flatten":
        return _flatten_shape(node, in_shape)
    if kind in PARAM_FIELDS and _param_size(node, PARAM_FIELDS[kind]) not in (1, size):
        raise ShapeError(
            f"node {name!r} ({kind}): parameters hold {_param_size(node, PARAM_FIELDS[kind])} values "
            f"but its input has {size} ({tuple(in_shape)})"
        )
    return tuple(in_shape)


def _flatten_shape(node: Any, in_shape: Shape) -> Shape:
    start, end = int(np.asarray(node.start_dim).reshape(-1)[0]), int(np.asarray(node.end_dim).reshape(-1)[0])
    nd = len(in_shape)
    start, end = start % nd if nd else 0, end % nd if nd else 0
    if start >= nd:  # writers that count the batch dim (start_dim=1 on a 1-D sample)
        return tuple(in_shape)
    return tuple(in_shape[:start]) + (int(np.prod(in_shape[start : end + 1])),) + tuple(in_shape[end + 1 :])


def infer_shapes(
    nodes: dict[str, Any], edges: list[tuple[str, str]], order: list[str], back: set
) -> tuple[dict[str, Shape], dict[str, Shape]]:
    """Input and output shape of every node, checked along every edge."""
    in_shape: dict[str, Shape] = {}
    out_shape: dict[str, Shape] = {}
    for name in order:
        fwd = [a for a, b in edges if b == name and (a, b) not in back]
        shape = out_shape[fwd[0]] if fwd else None
        for a in fwd[1:]:
            check_same_size((a, name), out_shape[a], shape)
        out_shape[name] = node_out_shape(nodes[name], name, shape)
        in_shape[name] = shape if shape is not None else out_shape[name]
    for a, b in edges:
        check_same_size((a, b), out_shape[a], in_shape[b])
    return in_shape, out_shape


def check_same_size(edge: tuple[str, str], got: Shape, want: Shape) -> None:
    """ShapeError when the values on ``edge`` do not have the size its target expects."""
    if int(np.prod(got)) != int(np.prod(want)):
        raise ShapeError(
            f"edge {edge[0]!r} -> {edge[1]!r}: source gives shape {tuple(got)} but {edge[1]!r} expects {tuple(want)}"
        )
