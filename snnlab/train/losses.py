"""Losses on per-step network outputs ``(T, B, classes)`` and the matching predictions.

- ``mean``: cross-entropy of the time-averaged output, ``CE(mean_t out[t], y)``.
- ``sum_softmax``: the DCLS-delays recipe: ``m = sum_t softmax(out[t])`` over classes, then
  ``CE(m, y)``, i.e. ``-log_softmax(m)[y]`` applied on top of the summed probabilities.
- ``last``: cross-entropy of the last step's output (membrane at the end of the sample).
- ``lm``: language modelling: per-token cross-entropy of logits ``(T, B, vocab)`` against the next
  tokens ``(T, B)``, wrapped in L2Wrap (SpikeGPT/RWKV: in backward, the largest logit of every
  token gets an extra gradient ``1e-4 / (B T) * max_logit``, which keeps logits from drifting up;
  the loss value is unchanged). Its metrics add bits per token (``bpc``: bits per character for
  character vocabularies) and perplexity.

Each loss comes with the score the prediction is the argmax of, so that accuracy always
agrees with what the loss optimises.
"""

from __future__ import annotations

import math
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
            raise ConfigError(f"train.loss: unknown loss '{kind}'; valid: {', '.join(SCORES)}, lm")
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

    @staticmethod
    def tally(scores: torch.Tensor, target: torch.Tensor) -> tuple[float, int]:
        """``(correct predictions, samples)`` of a batch."""
        return float((scores.argmax(1) == target).sum()), len(target)

    @staticmethod
    def extra_metrics(prefix: str, loss: float) -> dict[str, float]:
        """Metrics derived from the mean loss of a split (none for classification)."""
        return {}


class L2Wrap(torch.autograd.Function):
    """Identity on the loss; adds ``1e-4 / (B T) * max`` at each token's largest logit in backward."""

    @staticmethod
    def forward(ctx, loss: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(logits)
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        (logits,) = ctx.saved_tensors  # (T, B, V)
        factor = 1e-4 / (logits.shape[0] * logits.shape[1])
        top, ids = logits.max(-1, keepdim=True)
        extra = torch.zeros_like(logits).scatter_(-1, ids, top * factor)
        return grad, extra * grad


class LMLoss:
    """Next-token cross-entropy on ``(T, B, vocab)`` logits with L2Wrap (see the module docstring)."""

    kind = "lm"

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(loss, logits)`` for logits ``(T, B, V)`` and next tokens ``(T, B)``."""
        if out.dim() != 3 or target.shape != out.shape[:2]:
            raise ShapeError(
                f"lm loss: expected logits (T, B, vocab) and targets (T, B), got "
                f"{tuple(out.shape)} and {tuple(target.shape)}"
            )
        loss = F.cross_entropy(out.float().reshape(-1, out.shape[-1]), target.reshape(-1))
        return (L2Wrap.apply(loss, out) if out.requires_grad else loss), out.detach()

    @staticmethod
    def tally(scores: torch.Tensor, target: torch.Tensor) -> tuple[float, int]:
        """``(correctly predicted next tokens, tokens)``."""
        return float((scores.argmax(-1) == target).sum()), target.numel()

    @staticmethod
    def extra_metrics(prefix: str, loss: float) -> dict[str, float]:
        """Bits per token (per character with character tokens) and perplexity of a split."""
        return {f"{prefix}_bpc": loss / math.log(2.0), f"{prefix}_ppl": math.exp(min(loss, 700.0))}


def build_loss(kind: str, label_smoothing: float = 0.0) -> OutputLoss | LMLoss:
    """The loss named by ``train.loss``."""
    if kind == "lm":
        if label_smoothing:
            raise ConfigError("train.label_smoothing is not supported with loss 'lm'; set it to 0")
        return LMLoss()
    return OutputLoss(kind, label_smoothing)


__all__ = ["LMLoss", "L2Wrap", "OutputLoss", "SCORES", "build_loss"]
