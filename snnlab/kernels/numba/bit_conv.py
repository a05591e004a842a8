"""numba (CPU) kernels of ``conv2d.binary`` (see :mod:`snnlab.kernels.common.bit_conv`).

- ``_pack``: one pass over the pixel rows ``x (M, C_in)`` (their bit patterns as integers, so NaN is
  neither 0 nor 1): bit ``j`` of byte ``g`` of pixel ``m`` is ``x[m, 8 g + j] != 0``; per thread block the
  count of nonzeros and of values that are not 0 or 1.
- ``_tables``: for every tap ``t`` and group ``g`` of 8 input channels, the 256 subset sums of the
  group's weight rows ``W_t^T[8 g + j, :]``, one add of a row each (``T[b] = T[b - lowbit(b)] + W[lowbit]``).
- ``_forward``: parallel over output image rows; for an output pixel it lists the table rows of its
  taps inside the image (zero bytes skipped) and adds them 8 at a time into the output row (one
  read-modify-write of the row per 8 table rows; vectorised over ``C_out``).
- ``_row_masks`` + ``_weight_grad`` (k x k weight gradient): per image row and channel a 64-bit mask of
  the pixels; per 8 output pixels a table of the 256 subset sums of their output-gradient rows, then for
  every tap and input channel the table row picked by the 8 input bits under the tap (the mask shifted
  by the tap's column offset), added into per-thread ``(taps, C_in, C_out)`` accumulators.
- ``_unpack``: the bits back to a float ``(M, C_in)`` of zeros and ones (the 1x1 weight gradient's input).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange

from snnlab.kernels import pool
from snnlab.kernels.common.bit_conv import BITS, register_bit_conv

_INT = {torch.float32: np.int32, torch.float64: np.int64}
_ONE_MAGNITUDE = {  # bit patterns of 1.0 and of every bit but the sign
    torch.float32: (np.int32(0x3F800000), np.int32(0x7FFFFFFF)),
    torch.float64: (np.int64(0x3FF0000000000000), np.int64(0x7FFFFFFFFFFFFFFF)),
}
_POPCOUNT = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


@njit(parallel=True, cache=True)
def _pack(u, bits, stats, one, magnitude):  # pragma: no cover - compiled
    """``bits (M, G)`` uint8 of the float bit patterns ``u (M, C)`` (int view: ``0``/``-0`` are the
    patterns without magnitude bits, ``one`` is 1.0); ``stats[blk] = (nonzeros, values other than 0 and 1)``."""
    m_rows, c_in = u.shape
    n_groups, n_blocks = bits.shape[1], stats.shape[0]
    per = (m_rows + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        nnz, bad = 0, 0
        for m in range(blk * per, min(m_rows, (blk + 1) * per)):
            for c in range(c_in):
                v = u[m, c]
                bad += ((v & magnitude) != 0) & (v != one)
            for g in range(n_groups):
                c, b = 8 * g, 0
                for j in range(min(8, c_in - c)):
                    b |= ((u[m, c + j] & magnitude) != 0) << j
                bits[m, g] = b
                nnz += _POPCOUNT[b]
        stats[blk, 0], stats[blk, 1] = nnz, bad


@njit(parallel=True, fastmath=True, cache=True)
def _tables(wt, tab):  # pragma: no cover - compiled
    """``tab (taps G 256, C_out)``: row ``(t G + g) 256 + b`` = sum of ``wt[t, 8 g + j]`` over the bits ``j`` of ``b``."""
    taps, c_in, n_out = wt.shape
    n_groups = tab.shape[0] // (taps * 256)
    for tg in prange(taps * n_groups):
        t, g = tg // n_groups, tg % n_groups
        base = tg * 256
        for o in range(n_out):
            tab[base, o] = 0
        for b in range(1, 256):
            low = b & (-b)
            j = 0
            while (1 << j) != low:
                j += 1
            prev, c = base + (b ^ low), 8 * g + j
            if c < c_in:
                for o in range(n_out):
                    tab[base + b, o] = tab[prev, o] + wt[t, c, o]
            else:  # bits past C_in are never set; keep the table defined
                for o in range(n_out):
                    tab[base + b, o] = tab[prev, o]


@njit(parallel=True, fastmath=True, cache=True)
def _forward(bits, tab, out, n_img, h, w, kh, kw):  # pragma: no cover - compiled
    """``out (N H W, C_out)``: for each output pixel the sum of its taps' table rows (row 0 is zeros)."""
    n_out, n_groups = out.shape[1], bits.shape[1]
    ph, pw = kh // 2, kw // 2
    for ny in prange(n_img * h):
        n, y = ny // h, ny % h
        rows = np.empty(kh * kw * n_groups + 8, np.int64)
        for x in range(w):
            po, nl = ny * w + x, 0
            for dy in range(kh):
                yi = y + dy - ph
                for dx in range(kw):
                    xi = x + dx - pw
                    if yi < 0 or yi >= h or xi < 0 or xi >= w:
                        continue
                    m, base = (n * h + yi) * w + xi, (dy * kw + dx) * n_groups * 256
                    for g in range(n_groups):
                        b = bits[m, g]
                        if b != 0:
                            rows[nl] = base + g * 256 + b
                            nl += 1
            while nl % 8 != 0:
                rows[nl] = 0
                nl += 1
            for o in range(n_out):
                out[po, o] = 0
            for i in range(0, nl, 8):
                r0, r1, r2, r3 = rows[i], rows[i + 1], rows[i + 2], rows[i + 3]
                r4, r5, r6, r7 = rows[i + 4], rows[i + 5], rows[i + 6], rows[i + 7]
                for o in range(n_out):
                    s = (tab[r0, o] + tab[r1, o]) + (tab[r2, o] + tab[r3, o])
                    out[po, o] += s + ((tab[r4, o] + tab[r5, o]) + (tab[r6, o] + tab[r7, o]))


@njit(parallel=True, cache=True)
def _row_masks(bits, masks, w):  # pragma: no cover - compiled
    """``masks (N H, C_in)`` int64: bit ``col`` of ``masks[image row, c]`` is ``x[pixel (row, col), c] != 0``."""
    n_rows, c_in = masks.shape
    for r in prange(n_rows):
        for c in range(c_in):
            g, j, m = c >> 3, c & 7, 0
            for col in range(w):
                m |= np.int64((bits[r * w + col, g] >> j) & 1) << col
            masks[r, c] = m


@njit(parallel=True, fastmath=True, cache=True)
def _weight_grad(masks, gy, acc, n_img, h, w, kh, kw):  # pragma: no cover - compiled
    """``acc[block] (kh kw, C_in, C_out)``: per 8 output pixels of an image row, the subset sums of their
    ``gy`` rows, then one table row per tap and input channel (the bits of the 8 input pixels under the tap)."""
    n_blocks, _, c_in, n_out = acc.shape
    rows, ph, pw = n_img * h, kh // 2, kw // 2
    per = (rows + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        tab = np.empty((256, n_out), gy.dtype)
        for ny in range(blk * per, min(rows, (blk + 1) * per)):
            n, y = ny // h, ny % h
            for x0 in range(0, w, 8):
                count = min(8, w - x0)
                for o in range(n_out):
                    tab[0, o] = 0
                for b in range(1, 1 << count):
                    low = b & (-b)
                    j = 0
                    while (1 << j) != low:
                        j += 1
                    prev, p = b ^ low, ny * w + x0 + j
                    for o in range(n_out):
                        tab[b, o] = tab[prev, o] + gy[p, o]
                keep = (1 << count) - 1
                for dy in range(kh):
                    yi = y + dy - ph
                    if yi < 0 or yi >= h:
                        continue
                    for dx in range(kw):
                        t, shift = dy * kw + dx, x0 + dx - pw
                        for c in range(c_in):
                            m = masks[n * h + yi, c]
                            b = ((m >> shift) if shift >= 0 else (m << (-shift))) & keep
                            if b != 0:
                                for o in range(n_out):
                                    acc[blk, t, c, o] += tab[b, o]


@njit(parallel=True, cache=True)
def _unpack(bits, x):  # pragma: no cover - compiled
    """``x (M, C)`` of zeros and ones from ``bits (M, G)``."""
    m_rows, c_in = x.shape
    for m in prange(m_rows):
        for c in range(c_in):
            x[m, c] = (bits[m, c >> 3] >> (c & 7)) & 1


class NumbaBitConv:
    """Lookup-table convolution kernels on CPU tensors (float32 and float64)."""

    @staticmethod
    def unsupported(x: torch.Tensor) -> bool:
        return x.is_cuda or x.dtype not in (torch.float32, torch.float64)

    @staticmethod
    def pack(rows: torch.Tensor) -> tuple[torch.Tensor, int, bool]:
        """``(bits (M, G) uint8, nonzeros, binary)`` of the pixel rows ``(M, C_in)``."""
        m_rows, c_in = rows.shape
        bits = torch.empty((m_rows, -(-c_in // BITS)), dtype=torch.uint8)
        stats = np.empty((max(1, min(m_rows, 4 * numba.get_num_threads())), 2), np.int64)
        u = rows.numpy().view(_INT[rows.dtype])
        one, magnitude = _ONE_MAGNITUDE[rows.dtype]
        _pack(u, bits.numpy(), stats, one, magnitude)
        return bits, int(stats[:, 0].sum()), not stats[:, 1].any()

    @staticmethod
    def forward(bits: torch.Tensor, wt: torch.Tensor, shape: tuple[int, int, int, int, int]) -> torch.Tensor:
        n, h, w, kh, kw = shape
        tab = pool.empty((wt.shape[0] * bits.shape[1] * 256, wt.shape[2]), wt.dtype)  # (taps G 256, C_out)
        _tables(wt.numpy(), tab.numpy())
        out = pool.empty((n * h * w, wt.shape[2]), wt.dtype)  # (N H W, C_out), reused between steps
        _forward(bits.numpy(), tab.numpy(), out.numpy(), n, h, w, kh, kw)
        return out

    @staticmethod
    def weight_grad(bits: torch.Tensor, gy: torch.Tensor, shape: tuple[int, int, int, int, int], c_in: int):
        """``(kh kw, C_in, C_out)`` from the bits and the output gradient rows ``gy (N H W, C_out)``."""
        n, h, w, kh, kw = shape
        gy = gy.contiguous()
        masks = np.empty((n * h, c_in), np.int64)
        _row_masks(bits.numpy(), masks, w)
        blocks = max(1, min(numba.get_num_threads(), n * h))
        acc = pool.full((blocks, kh * kw, c_in, gy.shape[1]), 0.0, gy.dtype)  # per-thread accumulators
        _weight_grad(masks, gy.numpy(), acc.numpy(), n, h, w, kh, kw)
        return acc[0] if blocks == 1 else acc.sum(0)

    @staticmethod
    def unpack(bits: torch.Tensor, c_in: int, dtype: torch.dtype) -> torch.Tensor:
        x = pool.empty((bits.shape[0], c_in), dtype)  # (M, C_in)
        _unpack(bits.numpy(), x.numpy())
        return x


register_bit_conv(NumbaBitConv, "numba")
