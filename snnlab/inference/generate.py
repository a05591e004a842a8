"""Autoregressive text generation with a language model that has a recurrent mode (SpikeGPT).

``recurrent`` mode feeds one token at a time through :meth:`step`, carrying the state (work per
token independent of the length so far); ``parallel`` mode recomputes the whole prefix (the last
``ctx_len`` tokens) with the parallel forward for every new token, which is what a model
without a recurrent form must do. Both sample from the same logits.

Sampling: ``temperature`` divides the logits (0: greedy); ``top_p`` keeps the smallest set of
most likely tokens whose probability reaches ``top_p`` (nucleus sampling).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from snnlab.errors import ConfigError

MODES = ("recurrent", "parallel")


@dataclass
class Generation:
    """What :func:`generate` produced and how fast."""

    text: str
    tokens: list[int]
    prompt_tokens: int
    seconds: float  # generation only (after the prompt)
    mode: str

    @property
    def tokens_per_s(self) -> float:
        return len(self.tokens) / max(self.seconds, 1e-9)


def sample(logits: torch.Tensor, temperature: float, top_p: Optional[float], gen: torch.Generator) -> int:
    """One token id from ``logits (V,)``."""
    if temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_p, order = probs.sort(descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < top_p  # every token before the mass reaches top_p
        probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1, generator=gen))


def check_generation_args(
    prompt_ids: Any, tokens: int, temperature: float, top_p: Optional[float], ctx_len: int, mode: str
) -> None:
    """One-line errors for the bad inputs of :func:`generate`."""
    if len(prompt_ids) == 0:
        raise ConfigError("--prompt: the prompt is empty; give at least one character")
    if len(prompt_ids) > ctx_len:
        raise ConfigError(f"--prompt: {len(prompt_ids)} tokens is longer than the model's context of {ctx_len}")
    if not isinstance(tokens, int) or tokens < 1:
        raise ConfigError(f"--tokens must be an integer >= 1, got {tokens!r}")
    if not temperature >= 0:
        raise ConfigError(f"--temperature must be >= 0 (0 = greedy), got {temperature!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"--top-p must be in (0, 1], got {top_p!r}")
    if mode not in MODES:
        raise ConfigError(f"generation mode must be one of {', '.join(MODES)}, got {mode!r}")


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    prompt_ids: list[int],
    tokens: int,
    temperature: float = 1.0,
    top_p: Optional[float] = None,
    seed: int = 0,
    mode: str = "recurrent",
    decode: Optional[Callable[[list[int]], str]] = None,
    on_text: Optional[Callable[[str], None]] = None,
) -> Generation:
    """Continue ``prompt_ids`` by ``tokens`` tokens; ``on_text`` receives each piece as it comes.

    Args:
        model: a language model with ``ctx_len``, ``forward (T, B) -> (T, B, V)`` and, for
            ``recurrent``, ``step (B,) -> ((B, V), state)``.
        prompt_ids: the prompt's token ids (1 to ``ctx_len`` of them).
        decode: token ids -> text (for ``on_text`` and the result's ``text``).
    """
    ctx_len = int(model.ctx_len)
    check_generation_args(prompt_ids, tokens, temperature, top_p, ctx_len, mode)
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    ids = torch.as_tensor(list(prompt_ids), dtype=torch.long, device=device)
    next_logits = _recurrent(model, ids) if mode == "recurrent" else None
    out: list[int] = []
    start = time.perf_counter()
    state = next_logits[1] if next_logits is not None else None
    logits = next_logits[0] if next_logits is not None else None
    for _ in range(tokens):
        if mode == "parallel":
            window = torch.cat([ids, torch.as_tensor(out, dtype=torch.long, device=device)])[-ctx_len:]
            logits = model(window[:, None])[-1, 0]
        token = sample(logits.float().cpu(), temperature, top_p, gen)
        out.append(token)
        if on_text is not None and decode is not None:
            on_text(decode([token]))
        if mode == "recurrent":
            step_logits, state = model.step(torch.tensor([token], device=device), state)
            logits = step_logits[0]
    seconds = time.perf_counter() - start
    return Generation(decode(out) if decode else "", out, len(prompt_ids), seconds, mode)


def _recurrent(model: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """Feed the prompt one token at a time; the logits after its last token and the state."""
    state = None
    for token in ids:
        logits, state = model.step(token.reshape(1), state)
    return logits[0], state
