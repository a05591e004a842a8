"""HD-SNN: one layer of neurons with heterogeneous synaptic delays, read as a logistic regression.

Each synapse of class neuron ``c`` links polarity ``p`` at spatial offset ``(dy, dx)`` with a
weight and a delay ``d`` in ``[0, K_T)`` ms; together they form the kernel ``K[c, p, d, dy, dx]``.
On binary voxels ``A[p, t, y, x]`` the evidence is the causal spatio-temporal convolution::

    B[c, t, y, x] = sum_{p, d, dy, dx} K[c, p, d, dy, dx] * A[p, t - d, y - dy, x - dx]

(offsets centred: ``dy`` in ``[-K_Y // 2, K_Y // 2]``; only the past, ``t - d <= t``, is read;
voxels before the movie and outside the frame are zero), and the probability of class ``c``
is ``P = sigmoid(B + beta_c)``: a time-invariant logistic regression whose weights are
log-odds that add across independent (delay, offset) observations. It is trained with a
binary cross-entropy against the one-hot class at chosen voxels, computed from their past
windows (:meth:`HDSNN.window_logits`, see :mod:`snnlab.apps.motion.samples`). Options: a spatial cone mask
(radius shrinking with smaller delay) and polarity-flip invariance (evidence is the max of
``B`` computed with ON and OFF as given and swapped).

Why the readout matters: ``B`` is linear in ``A``, and for a spatially stationary texture the
expected event density at every (delay, offset) does not depend on the motion, so the mean of
``B`` over *all* positions cannot separate directions (the paper's per-voxel loss on every voxel
stays at chance here). Two nonlinearities fix this: reading ``B`` only where the sensor has an
event (the past events then line up along the trajectory; see :mod:`snnlab.apps.motion.samples`),
and the polarity flip, ``max(B, B_swapped) = (B + B_swapped) / 2 + |B - B_swapped| / 2``, a
rectified, motion-energy-like term.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from snnlab.errors import ConfigError, ShapeError


def cone_mask(kernel_t: int, kernel_xy: int, device: torch.device | None = None) -> torch.Tensor:
    """Spatial cone: offsets within radius ``r(d) = (K_XY // 2) * (d + 1) / K_T`` at delay ``d``.

    The paper's heuristic: a circular mask (no bias towards the diagonals of a square kernel)
    whose radius shrinks with smaller delay. Its radius grows by ``(K_XY // 2) / K_T`` pixels per
    ms of delay, so it keeps the whole trajectory only of motions at most that fast.

    Returns:
        Mask (K_T, K_XY, K_XY) of 0/1 floats indexed [d, dy, dx].
    """
    half = kernel_xy // 2
    offsets = torch.arange(kernel_xy, device=device, dtype=torch.float32) - half
    dist = torch.hypot(offsets[:, None], offsets[None, :])  # (K_XY, K_XY)
    radius = half * (torch.arange(kernel_t, device=device, dtype=torch.float32) + 1) / kernel_t
    return (dist[None] <= radius[:, None, None] + 1e-6).float()  # (K_T, K_XY, K_XY)


class HDSNN(nn.Module):
    """Heterogeneous-delay spiking layer: causal Conv3d over (t, y, x) plus a per-class bias.

    Args:
        n_classes: output channels (one neuron per class at every position).
        kernel_t: number of delays K_T (delays 0 .. K_T - 1 ms).
        kernel_xy: odd spatial kernel side K_XY.
        n_polarities: input channels (2: OFF, ON).
        cone: multiply the kernel by :func:`cone_mask`.
        polarity_invariant: evidence = max(B(A), B(A with polarities swapped)).
        init_std: standard deviation of the initial weights (>= 0).
        device, dtype: of the parameters.
    """

    def __init__(
        self,
        n_classes: int,
        kernel_t: int = 9,
        kernel_xy: int = 9,
        n_polarities: int = 2,
        cone: bool = False,
        polarity_invariant: bool = False,
        init_std: float = 0.01,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_sizes(n_classes, kernel_t, kernel_xy, n_polarities, init_std)
        self.n_classes, self.kernel_t, self.kernel_xy = n_classes, kernel_t, kernel_xy
        self.n_polarities, self.polarity_invariant = n_polarities, polarity_invariant
        shape = (n_classes, n_polarities, kernel_t, kernel_xy, kernel_xy)
        self.weight = nn.Parameter(torch.randn(shape, device=device, dtype=dtype) * init_std)  # K[c, p, d, dy, dx]
        prior = math.log(1.0 / max(n_classes - 1, 1))  # log-odds of a uniform class prior
        self.bias = nn.Parameter(torch.full((n_classes,), prior, device=device, dtype=dtype))  # beta_c
        mask = cone_mask(kernel_t, kernel_xy, device) if cone else torch.ones(kernel_t, kernel_xy, kernel_xy)
        self.register_buffer("mask", mask.to(device=device, dtype=self.weight.dtype))  # (K_T, K_XY, K_XY)

    def kernel(self) -> torch.Tensor:
        """Effective kernel K[c, p, d, dy, dx] (the weights under the mask)."""
        return self.weight * self.mask

    def n_synapses(self) -> int:
        """Number of non-zero synapses of the effective kernel."""
        return int(torch.count_nonzero(self.kernel().detach()))

    def evidence(self, voxels: torch.Tensor) -> torch.Tensor:
        """Evidence B: voxels (B, P, T, H, W) -> (B, C, T, H, W), causal in time."""
        check_voxels(voxels, self.n_polarities, self.kernel_t)
        x = voxels.to(self.weight.dtype)
        out = self._convolve(x)
        if self.polarity_invariant:
            out = torch.maximum(out, self._convolve(x.flip(1)))
        return out

    def forward(self, voxels: torch.Tensor) -> torch.Tensor:
        """Logits ``B + beta``: voxels (B, P, T, H, W) -> (B, C, T, H, W)."""
        return self.evidence(voxels) + self.bias[:, None, None, None]

    def probability(self, voxels: torch.Tensor) -> torch.Tensor:
        """P(class | t, y, x) = sigmoid(B + beta), (B, C, T, H, W)."""
        return torch.sigmoid(self(voxels))

    def spikes(self, voxels: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
        """Spiking output: a neuron fires where its probability exceeds ``threshold`` and is the
        largest over classes at that voxel (winner-take-all); bool (B, C, T, H, W)."""
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"spike threshold is a probability in (0, 1), got {threshold!r}")
        prob = self.probability(voxels)
        return (prob > threshold) & (prob == prob.amax(dim=1, keepdim=True))

    def window_logits(self, windows: torch.Tensor) -> torch.Tensor:
        """Logits ``B + beta`` at chosen voxels from their past windows.

        Args:
            windows: (M, P, K_T, K_XY, K_XY) from :func:`snnlab.apps.motion.samples.past_windows`.

        Returns:
            (M, C), equal to :meth:`forward` at those voxels.
        """
        shape = (self.n_polarities, self.kernel_t, self.kernel_xy, self.kernel_xy)
        if windows.dim() != 5 or tuple(windows.shape[1:]) != shape:
            raise ShapeError(f"windows must be (voxels, {', '.join(map(str, shape))}), got {tuple(windows.shape)}")
        kernel = self.kernel()
        flat = windows.to(kernel.dtype).flatten(1)  # (M, P * K_T * K_XY * K_XY)
        if not self.polarity_invariant:
            return flat @ kernel.flatten(1).T + self.bias
        both = flat @ torch.cat([kernel, kernel.flip(1)]).flatten(1).T  # (M, 2C): as given, swapped
        return torch.maximum(both[:, : self.n_classes], both[:, self.n_classes :]) + self.bias

    def loss(self, windows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean binary cross-entropy of the logits at chosen voxels vs the one-hot class of their step.

        Args:
            windows: (M, P, K_T, K_XY, K_XY) past windows (see :meth:`window_logits`).
            labels: (M,) class indices.
        """
        return self.logits_loss(self.window_logits(windows), labels)

    def logits_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean binary cross-entropy of logits (M, C) vs the one-hot classes ``labels`` (M,)."""
        if labels.shape != logits.shape[:1]:
            raise ShapeError(f"labels must be (voxels,) = ({logits.shape[0]},), got {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
            raise ShapeError(
                f"labels must lie in [0, {self.n_classes}), got [{int(labels.min())}, {int(labels.max())}]"
            )
        target = F.one_hot(labels.long(), self.n_classes).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, target)

    def set_synapses(self, synapses: list[tuple[int, int, int, int, int, float]]) -> None:
        """Zero the kernel, then set synapses ``(c, p, delay, dy, dx, weight)``.

        Offsets are centred (``|dy|, |dx| <= K_XY // 2``); delays lie in ``[0, K_T)``.

        Raises:
            ConfigError: naming the synapse and the valid range of the bad field.
        """
        half = self.kernel_xy // 2
        limits = {
            "c": (0, self.n_classes),
            "p": (0, self.n_polarities),
            "delay": (0, self.kernel_t),
            "dy": (-half, half + 1),
            "dx": (-half, half + 1),
        }
        with torch.no_grad():
            self.weight.zero_()
            for i, syn in enumerate(synapses):
                for (name, (lo, hi)), value in zip(limits.items(), syn[:5]):
                    if not lo <= int(value) < hi:
                        raise ConfigError(f"synapse {i}: {name}={value} is outside [{lo}, {hi})")
                c, p, d, dy, dx, w = syn
                self.weight[c, p, d, dy + half, dx + half] = float(w)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        """True causal convolution of x (B, P, T, H, W) with the effective kernel."""
        half = self.kernel_xy // 2
        x = F.pad(x, (half, half, half, half, self.kernel_t - 1, 0))  # past-only time padding
        return F.conv3d(x, self.kernel().flip(2, 3, 4))  # flip: correlation -> convolution


def check_voxels(voxels: torch.Tensor, n_polarities: int, kernel_t: int) -> None:
    """Raise ShapeError unless voxels are (B, P, T, H, W) with P polarities and T >= K_T."""
    if not isinstance(voxels, torch.Tensor) or voxels.dim() != 5:
        shape = tuple(voxels.shape) if isinstance(voxels, torch.Tensor) else type(voxels).__name__
        raise ShapeError(f"voxels must be a tensor (batch, polarity, time, height, width), got {shape}")
    if voxels.shape[1] != n_polarities:
        raise ShapeError(f"voxels have {voxels.shape[1]} polarities (dim 1); the layer expects {n_polarities}")
    if voxels.shape[2] < kernel_t:
        raise ShapeError(
            f"sequence of {voxels.shape[2]} steps is shorter than the kernel's "
            f"{kernel_t} delays; need time >= {kernel_t}"
        )


def _check_sizes(n_classes: int, kernel_t: int, kernel_xy: int, n_polarities: int, init_std: float) -> None:
    """Constructor arguments: positive sizes, odd spatial side, non-negative init std."""
    for name, value in (("n_classes", n_classes), ("kernel_t", kernel_t), ("n_polarities", n_polarities)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"HDSNN {name} must be an integer >= 1, got {value!r}")
    if not isinstance(kernel_xy, int) or kernel_xy < 1 or kernel_xy % 2 == 0:
        raise ConfigError(f"HDSNN kernel_xy must be an odd integer >= 1 (centred offsets), got {kernel_xy!r}")
    if not init_std >= 0:
        raise ConfigError(f"HDSNN init_std must be >= 0, got {init_std!r}")


def prune_kernel(kernel: torch.Tensor, keep: float) -> torch.Tensor:
    """Keep the ``keep`` fraction (0, 1] of non-zero synapses with the largest |weight|.

    Returns:
        A pruned copy of ``kernel`` (same shape); at least one synapse is kept.
    """
    if not 0.0 < keep <= 1.0:
        raise ConfigError(f"fraction of synapses kept must lie in (0, 1], got {keep!r}")
    magnitude = kernel.detach().abs().flatten()
    n_nonzero = int(torch.count_nonzero(magnitude))
    n_keep = max(1, round(keep * n_nonzero))
    order = torch.argsort(magnitude, descending=True, stable=True)
    mask = torch.zeros_like(magnitude)
    mask[order[:n_keep]] = 1.0
    return kernel * mask.view_as(kernel)


def shorten_kernel(kernel: torch.Tensor, n_delays: int) -> torch.Tensor:
    """Keep only delays ``d < n_delays`` of a kernel (C, P, K_T, K_XY, K_XY) ("shortening")."""
    if not 1 <= n_delays <= kernel.shape[2]:
        raise ConfigError(f"n_delays must lie in [1, {kernel.shape[2]}], got {n_delays!r}")
    out = kernel.clone()
    out[:, :, n_delays:] = 0.0
    return out
