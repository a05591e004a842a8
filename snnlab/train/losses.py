"""Losses on per-step network outputs ``(T, B, classes)`` and the matching predictions.

- ``mean``: cross-entropy of the time-averaged output, ``CE(mean_t out[t], y)``.
- ``sum_softmax``: the DCLS-delays recipe: ``m = sum_t softmax(out[t])`` over classes, then
  ``CE(m, y)``, i.e. ``-log_softmax(m)[y]`` applied on top of the summed probabilities.
- ``last``: cross-entropy of the last step's output (membrane at the end of the sample).

Each loss comes with the score the prediction is the argmax of, so that accuracy always
agrees with what the loss optimises.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from snnlab.errors import ConfigError, ShapeError

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def _mean_score(out: torch.Tensor) -> torch.Tensor:
    return out.mean(dim=0)  # (B, C)


def _sum_softmax_score(out: torch.Tensor) -> torch.Tensor:
    return F.softmax(out, dim=-1).sum(dim=0)  # (B, C)


def _last_score(out: torch.Tensor) -> torch.Tensor:
    return out[-1]  # (B, C)


SCORES: dict[str, ScoreFn] = {"mean": _mean_score, "sum_softmax": _sum_softmax_score, "last": _last_score}


class OutputLoss:
    """Cross-entropy on a per-sample score built from the per-step outputs.

    Args:
        kind: one of ``mean``, ``sum_softmax``, ``last``.
        label_smoothing: passed to :func:`torch.nn.functional.cross_entropy`.
    """

    def __init__(self, kind: str = "mean", label_smoothing: float = 0.0) -> None:
        if kind not in SCORES:
            raise ConfigError(f"train.loss: unknown loss '{kind}'; valid: {', '.join(SCORES)}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"train.label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.kind, self.label_smoothing = kind, float(label_smoothing)
        self._score = SCORES[kind]

    def score(self, out: torch.Tensor) -> torch.Tensor:
        """``out (T, B, C)`` -> class scores ``(B, C)`` (float32)."""
        if out.dim() != 3:
            raise ShapeError(f"model output must be per-step (T, B, classes), got shape {tuple(out.shape)}")
        return self._score(out.float())

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(loss, scores (B, C))`` for outputs ``(T, B, C)`` and labels ``(B,)``."""
        scores = self.score(out)
        loss = F.cross_entropy(scores, target, label_smoothing=self.label_smoothing)
        return loss, scores


__all__ = ["OutputLoss", "SCORES"]
