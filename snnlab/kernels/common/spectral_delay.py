"""``delay.dense`` in the frequency domain: the dense delay convolution as per-frequency GEMMs.

The dense op (reference: :func:`snnlab.functional.delay.delay_conv`) is a causal convolution of
every input channel with every ``(o, i)`` kernel of ``K`` taps, ``B T O I K`` multiply-adds per
pass. With ``h[o, i, d] = kernel[o, i, K - 1 - d]`` (the impulse response: delay ``d``)::

    y[b, o, u] = sum_{i, d} h[o, i, d] x[b, i, u - d]              (u < t_out, x = 0 outside [0, T))

On ``N >= max(T + K - 1, t_out)`` points the circular convolution equals the linear one on every
index used, so with the real DFT ``X[f] = sum_t x[t] e^{-2 pi i f t / N}`` (``F = N // 2 + 1``
frequencies) each pass is a complex GEMM per frequency, plus real transforms along time:

    forward:  Y[f] (B, O)  = X[f] (B, I) @ H[f]^T              y  = IDFT(Y)[:t_out]
    grad x:   GX[f] (B, I) = GY[f] (B, O) @ conj(H[f]) (O, I)   gx = IDFT(GX)[:T]
    grad h:   GH[f] (O, I) = GY[f]^T (O, B) @ conj(X[f])        gh = IDFT(GH)[:K]

(the two gradients are correlations: no index wraps either, for the same ``N``). That is
``~2 F B O I`` complex multiply-adds instead of ``B T O I K`` real ones (about 6x fewer at the
SHD sizes: T 112, K 25), and the transforms are GEMMs with the DFT matrices (time-major signals
``(T, B * I)`` are their right-hand side, no transposes). Complex numbers are kept as two real
planes ``(2, F, ...)`` (real, imaginary) so every product is a real batched GEMM. The result is
the same linear map as the reference; only the rounding differs (float64: ~1e-15 relative).

Memory: the spectra that live only inside one call (``H``, ``Y``, ``GY``, ``GX``, ``GH``) are
views of one flat scratch buffer from :mod:`snnlab.kernels.pool`, always requested at the largest
size any call has needed, so every layer of a network reuses the same block; only ``X`` (saved for
the kernel gradient) and the outputs have buffers of their own.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import torch

from snnlab.kernels import pool

_SCRATCH: dict[tuple[torch.dtype, str], int] = {}  # (dtype, device) -> largest scratch numel requested


def _scratch(device: torch.device, dtype: torch.dtype, *shapes: tuple[int, ...]) -> list[torch.Tensor]:
    """Views of shapes ``shapes``, laid end to end in one pooled flat buffer (valid during one call)."""
    sizes = [math.prod(shape) for shape in shapes]
    key, seen = (dtype, str(device)), _SCRATCH.get((dtype, str(device)), 0)
    numel = _SCRATCH[key] = max(sum(sizes), seen)
    if numel > seen and device.type == "cpu":  # the smaller size is never asked for again
        pool.POOL.drop(seen * torch.finfo(dtype).bits // 8)
    flat = pool.empty((numel,), dtype, device)
    views, at = [], 0
    for shape, size in zip(shapes, sizes):
        views.append(flat[at : at + size].view(shape))
        at += size
    return views


@functools.lru_cache(maxsize=32)
def dft_matrices(n: int, dtype: torch.dtype, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Real DFT matrices of ``n`` points: ``fwd (2F, n)`` and ``inv (n, 2F)``, ``F = n // 2 + 1``.

    ``fwd @ x`` stacks the real parts of ``X[f]`` over the imaginary parts; ``inv @ [Yr; Yi]``
    is the real inverse transform of a Hermitian spectrum given by its first ``F`` frequencies.
    """
    n_f = n // 2 + 1
    f = torch.arange(n_f, dtype=torch.int64)
    t = torch.arange(n, dtype=torch.int64)
    angle = (torch.outer(f, t) % n).to(torch.float64) * (2.0 * math.pi / n)  # (F, n), exact phase
    fwd = torch.cat([torch.cos(angle), -torch.sin(angle)])  # (2F, n)
    weight = torch.full((n_f, 1), 2.0 / n, dtype=torch.float64)
    weight[0] = 1.0 / n
    if n % 2 == 0:
        weight[-1] = 1.0 / n  # the Nyquist frequency appears once
    inv = torch.cat([torch.cos(angle) * weight, -torch.sin(angle) * weight]).T  # (n, 2F)
    return fwd.to(dtype=dtype, device=device), inv.contiguous().to(dtype=dtype, device=device)


def _cmm(a: torch.Tensor, b: torch.Tensor, conj_b: bool, out: torch.Tensor) -> torch.Tensor:
    """Per-frequency complex GEMM on planes: ``a (2, F, m, k) @ b (2, F, k, n)`` (``b`` conjugated)."""
    ar, ai = a
    br, bi = b
    sign = 1.0 if conj_b else -1.0
    torch.bmm(ar, br, out=out[0])
    out[0].baddbmm_(ai, bi, alpha=sign)  # real: ar br -/+ ai bi
    torch.bmm(ai, br, out=out[1])
    out[1].baddbmm_(ar, bi, alpha=-sign)  # imaginary: ai br +/- ar bi
    return out


def _signal(spec: torch.Tensor, inv: torch.Tensor, steps: int) -> torch.Tensor:
    """Planes ``(2, F, R...)`` -> the first ``steps`` samples of the real signal ``(steps, R...)``."""
    rows = spec.shape[0] * spec.shape[1]
    out = pool.empty((steps, *spec.shape[2:]), spec.dtype, spec.device)
    torch.mm(inv[:steps], spec.reshape(rows, -1), out=out.view(steps, -1))
    return out


def _spectrum(sig: torch.Tensor, fwd: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``sig (L, R...)`` time-major (contiguous) -> planes ``(2, F, R...)`` of its ``N``-point DFT."""
    n_l, rows = sig.shape[0], fwd.shape[0]
    if out is None:
        out = pool.empty((2, rows // 2, *sig.shape[1:]), sig.dtype, sig.device)
    torch.mm(fwd[:, :n_l], sig.reshape(n_l, -1), out=out.view(rows, -1))
    return out


def _kernel_spectrum(kernel: torch.Tensor, fwd: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``kernel (O, I, K)`` (index ``k`` = delay ``K - 1 - k``) -> planes ``out (2, F, O, I)`` of ``H``."""
    h = kernel.detach().flip(-1).permute(2, 0, 1).contiguous()  # (K, O, I): h[d] at delay d
    return _spectrum(h, fwd, out)


class SpectralDelayConv(torch.autograd.Function):
    """``x (B, I, T)``, ``kernel (O, I, K)`` -> ``(B, O, t_out)``, returned as a view of a time-major result."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: torch.Tensor, t_out: int) -> torch.Tensor:
        xt = x.detach().permute(2, 0, 1).contiguous()  # (T, B, I): free for a permuted time-major input
        n_t, n_b, n_i = xt.shape
        n_o, _, n_k = kernel.shape
        n = max(n_t + n_k - 1, t_out)
        fwd, inv = dft_matrices(n, x.dtype, str(x.device))
        n_f = fwd.shape[0] // 2
        xs = _spectrum(xt, fwd)  # (2, F, B, I), saved
        hs, ys = _scratch(x.device, x.dtype, (2, n_f, n_o, n_i), (2, n_f, n_b, n_o))
        _cmm(xs, _kernel_spectrum(kernel, fwd, hs).transpose(-1, -2), False, ys)  # (2, F, B, O)
        ctx.save_for_backward(xs if ctx.needs_input_grad[1] else None, kernel)
        ctx.sizes = (n, n_t, n_k)
        return _signal(ys, inv, t_out).permute(1, 2, 0)  # (B, O, t_out) view of (t_out, B, O)

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        xs, kernel = ctx.saved_tensors
        n, n_t, n_k = ctx.sizes
        n_o, n_i = kernel.shape[:2]
        fwd, inv = dft_matrices(n, gy.dtype, str(gy.device))
        n_f, n_b = fwd.shape[0] // 2, gy.shape[0]
        planes = [(2, n_f, n_b, n_o), (2, n_f, n_o, n_i), (2, n_f, n_b, n_i)]  # GY, then H and GX or GH
        views = _scratch(gy.device, gy.dtype, *planes[: 3 if ctx.needs_input_grad[0] else 2])
        gys, hs = _spectrum(gy.permute(2, 0, 1).contiguous(), fwd, views[0]), views[1]  # GY (2, F, B, O)
        gx = gk = None
        if ctx.needs_input_grad[0]:
            gxs = _cmm(gys, _kernel_spectrum(kernel, fwd, hs), True, views[2])  # (2, F, B, I)
            gx = _signal(gxs, inv, n_t).permute(1, 2, 0)  # (B, I, T) view
        if ctx.needs_input_grad[1]:
            _cmm(gys.transpose(-1, -2), xs, True, hs)  # (2, F, O, I): GH, in H's place
            gh = _signal(hs, inv, n_k)  # (K, O, I): gh[d] at delay d
            gk = gh.flip(0).permute(1, 2, 0).contiguous()  # (O, I, K)
        return gx, gk, None


def dense_spectral(x: torch.Tensor, kernel: torch.Tensor, t_out: int) -> torch.Tensor:
    """Dense delay convolution by per-frequency GEMMs: ``x (B, I, T)``, ``kernel (O, I, K)`` -> ``(B, O, t_out)``.

    ``x`` is best a permuted time-major tensor (``(T, B, I).permute(1, 2, 0)``): it is read as
    ``(T, B, I)`` without a copy, and the output is a view of a ``(t_out, B, O)`` tensor.
    """
    if x.dim() != 3 or kernel.dim() != 3 or kernel.shape[1] != x.shape[1]:
        raise ValueError(
            f"delay.dense: expected x (B, I, T) and kernel (O, I, K), got x {tuple(x.shape)}, "
            f"kernel {tuple(kernel.shape)}"
        )
    if t_out < x.shape[2]:
        raise ValueError(f"delay.dense: t_out must be >= T={x.shape[2]}, got {t_out}")
    if x.dtype != kernel.dtype or not x.is_floating_point():
        raise ValueError(f"delay.dense: x and kernel must share a float dtype, got {x.dtype}, {kernel.dtype}")
    return SpectralDelayConv.apply(x, kernel, t_out)
