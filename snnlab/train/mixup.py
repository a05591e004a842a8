"""Mixup and CutMix on batches, with label smoothing, switched off after a given epoch.

As timm's ``Mixup`` in "batch" mode (the Max-Former recipes): per batch, with probability ``prob``
mix; when both alphas are positive choose CutMix with probability ``switch_prob``, else Mixup.

- Mixup (Zhang et al. 2018): ``lam ~ Beta(a, a)``, ``x = lam x + (1 - lam) x_flip``.
- CutMix (Yun et al. 2019): ``lam ~ Beta(a, a)``; a box of side ``sqrt(1 - lam)`` times the image's,
  centred uniformly (clipped at the borders), is pasted from ``x_flip``; ``lam`` is then corrected
  to ``1 - box area / image area``.

``x_flip`` is the batch in reverse order. Targets are soft: ``lam y + (1 - lam) y_flip`` with
``y = one_hot * (1 - s) + s / K`` (label smoothing ``s``, ``K`` classes). Works on static
``(B, C, H, W)`` and time-major ``(T, B, C, H, W)`` batches (the same mix at every step).
"""

from __future__ import annotations

import numpy as np
import torch

from snnlab.errors import ShapeError
from snnlab.train.config import MixupConfig


def smooth_one_hot(y: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """``(B,)`` labels -> ``(B, K)`` targets ``one_hot * (1 - s) + s / K``."""
    off = smoothing / num_classes
    out = torch.full((len(y), num_classes), off, dtype=torch.float32, device=y.device)
    return out.scatter_(1, y.long().unsqueeze(1), 1.0 - smoothing + off)


def cutmix_box(h: int, w: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of a box with sides ``sqrt(1 - lam)`` times the image's,
    centred uniformly at random and clipped to the image."""
    ratio = (1.0 - lam) ** 0.5
    ch, cw = int(h * ratio), int(w * ratio)
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    return max(cy - ch // 2, 0), min(cy + ch // 2, h), max(cx - cw // 2, 0), min(cx + cw // 2, w)


class Mixup:
    """Batch mixer (see the module docstring).

    Args:
        cfg: alphas, probabilities, switch-off epoch.
        num_classes: K of the soft targets.
        smoothing: label smoothing of the targets.
        seed: generator seed.
    """

    def __init__(self, cfg: MixupConfig, num_classes: int, smoothing: float = 0.0, seed: int = 0) -> None:
        cfg.validate()
        self.cfg, self.num_classes, self.smoothing = cfg, int(num_classes), float(smoothing)
        self.seed = int(seed)
        self.start_epoch(0)

    def start_epoch(self, epoch: int) -> None:
        """Set the epoch (0-based) and reseed from ``(seed, epoch)``, so a resumed run mixes alike."""
        self.epoch = int(epoch)
        self.rng = np.random.default_rng([self.seed, self.epoch])

    def active(self) -> bool:
        """Whether batches of the current epoch are mixed."""
        off = self.cfg.off_epoch
        return self.cfg.enabled and (off is None or self.epoch < off)

    def _draw(self) -> tuple[float, bool]:
        """``(lam, use_cutmix)`` for one batch; ``lam = 1`` means no mixing."""
        rng, cfg = self.rng, self.cfg
        if rng.random() >= cfg.prob:
            return 1.0, False
        use_cut = cfg.cutmix_alpha > 0 and (cfg.mixup_alpha <= 0 or rng.random() < cfg.switch_prob)
        alpha = cfg.cutmix_alpha if use_cut else cfg.mixup_alpha
        return float(rng.beta(alpha, alpha)), use_cut

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix ``x (B, C, H, W)`` or ``(T, B, C, H, W)`` and labels ``y (B,)`` -> ``(x, soft y (B, K))``."""
        if x.dim() not in (4, 5):
            raise ShapeError(f"Mixup expects (B, C, H, W) or (T, B, C, H, W), got {tuple(x.shape)}")
        target = smooth_one_hot(y, self.num_classes, self.smoothing)
        lam, use_cut = self._draw() if self.active() else (1.0, False)
        if lam >= 1.0:
            return x, target
        b_dim = x.dim() - 4  # 0 for static, 1 for time-major
        flipped = x.flip(b_dim)
        if use_cut:
            top, bottom, left, right = cutmix_box(x.shape[-2], x.shape[-1], lam, self.rng)
            x = x.clone()
            x[..., top:bottom, left:right] = flipped[..., top:bottom, left:right]
            lam = 1.0 - (bottom - top) * (right - left) / float(x.shape[-2] * x.shape[-1])
        else:
            x = x * lam + flipped * (1.0 - lam)
        return x, target * lam + target.flip(0) * (1.0 - lam)


def soft_cross_entropy(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_k target_k log softmax(scores)_k`` (timm's SoftTargetCrossEntropy)."""
    return -(target * torch.log_softmax(scores, dim=-1)).sum(-1).mean()


__all__ = ["Mixup", "MixupConfig", "cutmix_box", "smooth_one_hot", "soft_cross_entropy"]
