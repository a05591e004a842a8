"""Convolution and batch norm on channels-last activations, through snnlab's row kernels.

On a channels-last tensor ``x (N, C, H, W)`` (memory order ``N, H, W, C``) the pixels are the rows
of a ``(N H W, C)`` matrix, and that matrix is a view of ``x`` (no copy). Two layers use it:

- :class:`SpikeConv2d`: a 1x1 convolution is ``y = x W^T + b`` on those rows (of every s-th pixel
  for stride s) (``W (C_out, C_in)``), so on a spike input (mostly zeros) it runs the
  ``linear.spikes`` op of :mod:`snnlab.kernels.common.spike_linear`; a same-padded k x k
  convolution with stride 1 (the 3x3 embeddings) runs the ``conv2d.spikes`` op of
  :mod:`snnlab.kernels.common.spike_conv` on the same rows. Both compute the forward and the
  weight gradient from the nonzeros when the measured density is at most ``max_density``, the
  input gradient dense (a GEMM / a transposed convolution), outputs in reused buffers. Above
  ``max_density`` a binary input (spikes) goes to the lookup-table convolution ``conv2d.binary`` of
  :mod:`snnlab.kernels.common.bit_conv` instead of the dense GEMM (1x1 at stride 1 and k x k).
- :class:`BatchNorm2d`: training-mode batch norm over ``N H W`` is batch norm over those rows, the
  ``batch_norm.rows`` op of :mod:`snnlab.kernels.common.batch_norm`.

Both are their torch classes (same parameters, buffers and state dict; exports see a Conv2d and a
BatchNorm2d) and fall back to torch's own forward for anything else (other kernel sizes, strides,
groups, NCHW memory order, evaluation mode). The output is channels-last, as torch's would be.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from snnlab.errors import ConfigError
from snnlab.kernels import BACKENDS, SPIKE_MAX_DENSITY, dispatch, get_backend
from snnlab.nn.batch_norm import train_rows
from snnlab.nn.spike_linear import dense_on_gpu

PROBE_EVERY = 32  # SpikeConv2d(lookup=True): calls between two density measurements on the CSR route


def pixel_rows(x: torch.Tensor) -> torch.Tensor | None:
    """The ``(N H W, C)`` view of a channels-last ``x (N, C, H, W)``, or None when ``x`` is not one."""
    if x.dim() != 4 or not x.is_contiguous(memory_format=torch.channels_last):
        return None
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).view(n * h * w, c)


def from_rows(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``y (N H W, C')`` back to a channels-last ``(N, C', H, W)`` view, shaped as ``like``."""
    n, _, h, w = like.shape
    return y.view(n, h, w, y.shape[1]).permute(0, 3, 1, 2)


def is_same_padded(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` is stride 1 with an odd kernel larger than 1x1 and padding ``k // 2`` per side."""
    if isinstance(conv.padding, str):  # "same" / "valid": torch's own path
        return False
    (kh, kw), (ph, pw) = conv.kernel_size, conv.padding
    odd = kh % 2 == 1 and kw % 2 == 1 and (kh, kw) != (1, 1)
    return odd and conv.stride == (1, 1) and (ph, pw) == (kh // 2, kw // 2)


def _check_backend(cls: str, backend: str) -> str:
    if backend != "auto" and backend not in BACKENDS:
        raise ConfigError(f"{cls}: backend must be auto|{'|'.join(BACKENDS)}, got {backend!r}")
    return backend


class SpikeConv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs on the nonzeros of a channels-last spike input: the 1x1 case through
    ``linear.spikes``, a same-padded odd k x k kernel with stride 1 through ``conv2d.spikes``.

    A strided 1x1 convolution is the stride-1 one on every s-th pixel (a small copy of those pixels).
    It also sidesteps torch 2.13's oneDNN backward of a channels-last 1x1 convolution with stride 4,
    which corrupts the heap (seen here on CPU as "corrupted size vs. prev_size" aborts).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as ``nn.Conv2d``.
        max_density: share of nonzero inputs above which the dense GEMM is used (or, with ``lookup``,
            the lookup-table convolution ``conv2d.binary`` on binary inputs).
        backend: ``auto`` (numba on CPU tensors; dense cuDNN on CUDA tensors) | ``torch`` (dense, the
            reference) | ``numba`` | ``cuda``.
        lookup: run dense binary inputs through ``conv2d.binary``; the density is measured on the first
            call and every ``PROBE_EVERY`` calls after (each probe is itself a ``conv2d.binary`` call).
        device: parameter device.
        dtype: parameter dtype.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        max_density: float = SPIKE_MAX_DENSITY,
        backend: str = "auto",
        lookup: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device=device, dtype=dtype
        )
        self.lookup, self._lookup_route, self._calls = bool(lookup), False, 0
        if not 0.0 <= float(max_density) <= 1.0:
            raise ConfigError(f"SpikeConv2d: max_density must be in [0, 1], got {max_density!r}")
        self.max_density, self.backend = float(max_density), _check_backend("SpikeConv2d", backend)
        plain = self.groups == 1 and self.padding_mode == "zeros" and self.dilation == (1, 1)
        self.pointwise = plain and self.kernel_size == (1, 1) and self.padding == (0, 0)
        self.spatial = plain and is_same_padded(self)

    def _conv_spikes(self, x: torch.Tensor) -> torch.Tensor:
        """``conv2d.spikes`` on a channels-last ``x (N, C_in, H, W)``."""
        backend = get_backend(self.backend, x, op="conv2d.spikes")
        return dispatch("conv2d.spikes", backend, x, self.weight, self.bias, self.max_density)

    def _conv_binary(self, x: torch.Tensor) -> torch.Tensor | None:
        """``conv2d.binary`` on a channels-last stride-1 CPU ``x`` when this layer's route is the lookup
        tables (the last measured density was above ``max_density``) or a probe is due; else None
        (CUDA tensors keep the CSR ops, which have CUDA kernels)."""
        self._calls += 1
        if x.is_cuda or not (self.lookup and (self._lookup_route or self._calls % PROBE_EVERY == 1)):
            return None
        y, density = dispatch(
            "conv2d.binary", get_backend(self.backend, x, op="conv2d.binary"), x, self.weight, self.bias
        )
        self._lookup_route = density > self.max_density  # NaN (not measured): the CSR ops decide
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, C_in, H, W)`` -> ``(N, C_out, H, W)``."""
        if dense_on_gpu(x, self.backend):
            return super().forward(x)  # cuDNN
        if self.spatial and pixel_rows(x) is not None and x.shape[1] == self.in_channels:
            y = self._conv_binary(x)
            return self._conv_spikes(x) if y is None else y
        rows = pixel_rows(x) if self.pointwise and x.dtype == self.weight.dtype else None
        if rows is None or x.shape[1] != self.in_channels:
            return super().forward(x)
        if self.stride != (1, 1):  # a strided 1x1 convolution reads every s-th pixel: pick them first
            x = x[:, :, :: self.stride[0], :: self.stride[1]].contiguous(memory_format=torch.channels_last)
            rows = pixel_rows(x)
        y = self._conv_binary(x)
        if y is not None:
            return y
        backend = get_backend(self.backend, x, op="linear.spikes")
        w = self.weight.view(self.out_channels, self.in_channels)
        return from_rows(dispatch("linear.spikes", backend, rows, w, self.bias, self.max_density), x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_density={self.max_density}, backend={self.backend!r}, lookup={self.lookup}"


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training-mode pass on a channels-last input runs ``batch_norm.rows``.

    Args:
        num_features: channels ``C``.
        eps: added to the variance.
        momentum: running-average weight; None for the cumulative average (as torch).
        affine: learnable scale and shift.
        track_running_stats: keep running mean and variance (otherwise torch's path).
        backend: ``auto`` | ``torch`` (the reference) | ``numba`` | ``cuda`` (falls back to torch).
        device: parameter device.
        dtype: parameter dtype.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        backend: str = "auto",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.backend = _check_backend("BatchNorm2d", backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, C, H, W)`` -> same shape."""
        rows = pixel_rows(x) if self.training and self.track_running_stats else None
        if rows is None or x.shape[1] != self.num_features or rows.shape[0] < 2:
            return super().forward(x)
        return from_rows(train_rows(self, rows), x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend!r}"


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` whose pass on a channels-last CPU input runs ``max_pool2d.rows`` (torch's argmax
    and gradient routing; the backward saves an int32 window position per output, torch an int64 index).

    Args:
        kernel_size, stride, padding: square pooling geometry, as ``nn.MaxPool2d`` (dilation 1, floor mode).
        backend: ``auto`` | ``torch`` (the reference) | ``numba`` | ``cuda`` (falls back to torch).
    """

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, backend: str = "auto") -> None:
        super().__init__(kernel_size, stride, padding)
        self.backend = _check_backend("MaxPool2d", backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, C, H, W)`` -> ``(N, C, H', W')``."""
        if pixel_rows(x) is None:
            return super().forward(x)
        backend = get_backend(self.backend, x, op="max_pool2d.rows")
        return dispatch("max_pool2d.rows", backend, x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, backend={self.backend!r}"


def _square_pool(m: nn.Module) -> bool:
    geometry = (m.kernel_size, m.stride, m.padding, m.dilation)
    return all(isinstance(v, int) for v in geometry) and m.dilation == 1 and not (m.ceil_mode or m.return_indices)


def _copy_as(cls: type, module: nn.Module, **extra: Any) -> nn.Module:
    """A ``cls`` layer with ``module``'s configuration, parameters, buffers and mode."""
    if isinstance(module, nn.Conv2d):
        args: tuple = (module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding)
        kw = dict(dilation=module.dilation, groups=module.groups, bias=module.bias is not None)
        if cls is nn.Conv2d:
            kw["padding_mode"] = module.padding_mode
    else:
        args = (module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        kw = {}
    like = next(t for t in module.state_dict().values() if t.is_floating_point())
    copy = cls(*args, **kw, **extra, device=like.device, dtype=like.dtype)
    copy.load_state_dict(module.state_dict())
    return copy.train(module.training)


def spike_copy(module: nn.Module, backend: str = "auto") -> nn.Module:
    """A 1x1 or same-padded stride-1 ``nn.Conv2d`` as :class:`SpikeConv2d`, an ``nn.BatchNorm2d`` as
    :class:`BatchNorm2d` (same parameters and buffers), a square ``nn.MaxPool2d`` as :class:`MaxPool2d`;
    any other module as given."""
    if type(module) is nn.Conv2d and module.padding_mode == "zeros" and module.groups == 1:
        pointwise = module.kernel_size == (1, 1) and module.padding == (0, 0)
        if module.dilation == (1, 1) and (pointwise or is_same_padded(module)):
            return _copy_as(SpikeConv2d, module, backend=backend)
    if type(module) is nn.BatchNorm2d:
        return _copy_as(BatchNorm2d, module, backend=backend)
    if type(module) is nn.MaxPool2d and _square_pool(module):
        return MaxPool2d(module.kernel_size, module.stride, module.padding, backend=backend).train(module.training)
    return module


def plain_copy(module: nn.Module) -> nn.Module:
    """The torch ``nn.Conv2d`` / ``nn.BatchNorm2d`` / ``nn.MaxPool2d`` of a :class:`SpikeConv2d` /
    :class:`BatchNorm2d` / :class:`MaxPool2d`; others as given."""
    if isinstance(module, SpikeConv2d):
        return _copy_as(nn.Conv2d, module)
    if isinstance(module, BatchNorm2d):
        return _copy_as(nn.BatchNorm2d, module)
    if isinstance(module, MaxPool2d):
        return nn.MaxPool2d(module.kernel_size, module.stride, module.padding).train(module.training)
    return module


def replace_layers(model: nn.Module, fn: Callable[[nn.Module], nn.Module]) -> nn.Module:
    """Replace, in place, every submodule ``m`` of ``model`` by ``fn(m)``; returns ``model``."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = fn(child)
            if new is not child:
                setattr(parent, name, new)
    return model


__all__ = [
    "BatchNorm2d",
    "MaxPool2d",
    "SpikeConv2d",
    "from_rows",
    "pixel_rows",
    "plain_copy",
    "replace_layers",
    "spike_copy",
]
