"""Stateless layers between torch modules and NIR nodes: synapses, pooling, flatten, BN folding.

Export works on one leaf module at a time; ``offset`` is how many leading dims the module sees
besides the per-sample shape (1 inside :class:`snnlab.nn.TimeDistributed`, 2 in the time-major
chain). Import returns time-major modules ``(T, B, ...) -> (T, B, ...)``.
"""

from __future__ import annotations

from typing import Any, Optional

import nir
import numpy as np
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import GraphError

SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d)
DROPPED = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity, snn.SeqDropout)
LAYER_NODES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten")


def _np(t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    return None if t is None else t.detach().cpu().to(torch.float32).numpy().copy()


def _pair(value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=np.int64).reshape(-1)
    return np.repeat(arr, 2) if arr.size == 1 else arr


def _conv_padding(conv: nn.Module, name: str) -> Any:
    if conv.padding_mode != "zeros":
        raise GraphError(f"layer {name!r}: padding_mode={conv.padding_mode!r} has no NIR form (only 'zeros')")
    return conv.padding if isinstance(conv.padding, str) else np.asarray(conv.padding, dtype=np.int64)


def _conv_node(conv: nn.Module, shape: Optional[tuple[int, ...]], name: str) -> nir.NIRNode:
    if shape is None:
        raise GraphError(
            f"layer {name!r}: {type(conv).__name__} needs the per-sample input shape; "
            f"pass input_shape=(C, ...) to to_nir"
        )
    bias = _np(conv.bias) if conv.bias is not None else np.zeros(conv.out_channels, np.float32)
    common = dict(weight=_np(conv.weight), padding=_conv_padding(conv, name), groups=int(conv.groups), bias=bias)
    if isinstance(conv, nn.Conv1d):
        return nir.Conv1d(
            input_shape=int(shape[-1]), stride=int(conv.stride[0]), dilation=int(conv.dilation[0]), **common
        )
    return nir.Conv2d(
        input_shape=tuple(int(s) for s in shape[-2:]),
        stride=_pair(conv.stride),
        dilation=_pair(conv.dilation),
        **common,
    )


def _pool_node(pool: nn.Module, name: str) -> nir.NIRNode:
    if isinstance(pool, nn.LPPool2d):
        if float(pool.norm_type) != 1.0:
            raise GraphError(f"layer {name!r}: LPPool2d(norm_type={pool.norm_type}) has no NIR node (only norm_type=1)")
        stride = pool.stride if pool.stride is not None else pool.kernel_size
        return nir.SumPool2d(kernel_size=_pair(pool.kernel_size), stride=_pair(stride), padding=_pair(0))
    if pool.ceil_mode or (not pool.count_include_pad and np.any(_pair(pool.padding) > 0)):
        raise GraphError(f"layer {name!r}: AvgPool2d with ceil_mode or count_include_pad=False has no NIR node")
    stride = pool.stride if pool.stride is not None else pool.kernel_size
    args = dict(kernel_size=_pair(pool.kernel_size), stride=_pair(stride), padding=_pair(pool.padding))
    if pool.divisor_override == 1:
        return nir.SumPool2d(**args)
    if pool.divisor_override is not None:
        raise GraphError(
            f"layer {name!r}: AvgPool2d(divisor_override={pool.divisor_override}) has no NIR node (valid: None or 1)"
        )
    return nir.AvgPool2d(**args)


def _flatten_node(module: nn.Module, shape: Optional[tuple[int, ...]], offset: int, name: str) -> nir.NIRNode:
    if shape is None:
        raise GraphError(f"layer {name!r}: Flatten needs the per-sample input shape; pass input_shape to to_nir")
    if isinstance(module, snn.Flatten):
        start, end = 0, -1
    else:
        start, end = module.start_dim, module.end_dim
        start = start - offset if start >= 0 else start
        end = end - offset if end >= 0 else end
        if start < 0 and start + len(shape) + offset < offset:
            raise GraphError(f"layer {name!r}: Flatten(start_dim={module.start_dim}) would merge batch or time dims")
    return nir.Flatten(input_type={"input": np.asarray(shape, dtype=np.int64)}, start_dim=start, end_dim=end)


def layer_to_node(module: nn.Module, shape: Optional[tuple[int, ...]], offset: int, name: str) -> nir.NIRNode:
    """The NIR node of a stateless leaf layer; GraphError naming the type when NIR has none."""
    if isinstance(module, nn.Linear):
        if module.bias is None:
            return nir.Linear(weight=_np(module.weight))
        return nir.Affine(weight=_np(module.weight), bias=_np(module.bias))
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return _conv_node(module, shape, name)
    if isinstance(module, (nn.AvgPool2d, nn.LPPool2d)):
        return _pool_node(module, name)
    if isinstance(module, (nn.Flatten, snn.Flatten)):
        return _flatten_node(module, shape, offset, name)
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.AdaptiveMaxPool2d)):
        raise GraphError(
            f"layer {name!r}: {type(module).__name__} has no NIR node (NIR has no max pooling); "
            f"use AvgPool2d or a strided convolution"
        )
    raise GraphError(
        f"layer {name!r}: module type {type(module).__name__} is not supported by to_nir "
        f"(supported: Linear, Conv1d, Conv2d, AvgPool2d, LPPool2d(1), Flatten, BatchNorm after a "
        f"synapse, Dropout, SeqDropout, snnlab neurons, DelayedLinear)"
    )


def batchnorm_affine(bn: nn.Module, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` per channel (float64) of an eval-mode batch norm: ``bn(y) = scale * y + shift``."""
    if bn.running_mean is None:
        raise GraphError(f"layer {name!r}: {type(bn).__name__}(track_running_stats=False) cannot be folded")
    var = bn.running_var.detach().double().cpu().numpy()
    scale = 1.0 / np.sqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double().cpu().numpy()
    shift = -bn.running_mean.detach().double().cpu().numpy() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double().cpu().numpy()
    return scale, shift


def fold_batchnorm(node: nir.NIRNode, bn: nn.Module, name: str) -> nir.NIRNode:
    """A copy of the synapse ``node`` with the eval-mode batch norm ``bn`` folded into weight and bias."""
    if not isinstance(node, (nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)):
        raise GraphError(
            f"layer {name!r}: {type(bn).__name__} must follow a Linear or Conv layer to be folded, "
            f"it follows a {type(node).__name__} node"
        )
    scale, shift = batchnorm_affine(bn, name)
    weight = node.weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (node.weight.ndim - 1))
    bias = getattr(node, "bias", None)
    bias = shift if bias is None else bias.astype(np.float64) * scale + shift
    weight, bias = weight.astype(np.float32), bias.astype(np.float32)
    if isinstance(node, (nir.Affine, nir.Linear)):
        return nir.Affine(weight=weight, bias=bias, metadata=dict(node.metadata or {}))
    fields = {k: getattr(node, k) for k in ("input_shape", "stride", "padding", "dilation", "groups")}
    return type(node)(weight=weight, bias=bias, metadata=dict(node.metadata or {}), **fields)


# ----------------------------------------------------------------------------- import
class Scale(nn.Module):
    """Elementwise scale by a per-sample tensor (NIR ``Scale``): ``(T, B, ...) -> (T, B, ...)``."""

    def __init__(self, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def _ints(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    arr = np.asarray(value).reshape(-1)
    return int(arr[0]) if arr.size == 1 else tuple(int(v) for v in arr)


def _linear(node: Any) -> nn.Module:
    weight = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
    if weight.dim() != 2:
        raise GraphError(
            f"an {type(node).__name__} node has a weight of shape {tuple(weight.shape)}; expected (out, in)"
        )
    bias = getattr(node, "bias", None)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float32)).reshape(-1))
    return layer


def _conv(node: Any) -> nn.Module:
    weight = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
    cls = nn.Conv1d if isinstance(node, nir.Conv1d) else nn.Conv2d
    groups = int(np.asarray(node.groups).reshape(-1)[0])
    layer = cls(
        weight.shape[1] * groups,
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=_ints(node.stride),
        padding=_ints(node.padding),
        dilation=_ints(node.dilation),
        groups=groups,
        bias=True,
    )
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float32)).reshape(-1))
    return layer


def _flatten(node: nir.Flatten) -> nn.Module:
    start, end = int(node.start_dim), int(node.end_dim)
    if start == 0 and end == -1:
        return snn.Flatten()
    return snn.TimeDistributed(nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end))


def node_to_layer(node: nir.NIRNode, name: str) -> nn.Module:
    """A time-major module for a stateless NIR node (one of :data:`LAYER_NODES`)."""
    kind = type(node).__name__
    if kind in ("Affine", "Linear"):
        return snn.TimeDistributed(_linear(node))
    if kind in ("Conv1d", "Conv2d"):
        return snn.TimeDistributed(_conv(node))
    if kind in ("SumPool2d", "AvgPool2d"):
        pool = nn.AvgPool2d(
            _ints(node.kernel_size),
            _ints(node.stride),
            _ints(node.padding),
            divisor_override=1 if kind == "SumPool2d" else None,
        )
        return snn.TimeDistributed(pool)
    if kind == "Flatten":
        return _flatten(node)
    if kind == "Scale":
        return Scale(node.scale)
    raise GraphError(f"node {name!r}: type {kind} is not a layer node ({', '.join(LAYER_NODES)})")
