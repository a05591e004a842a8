"""SpikeGPT language models (Zhu, Zhao, Li, Eshraghian, TMLR 2024): a spiking RWKV.

Token ids ``(T, B)`` -> logits ``(T, B, vocab)``: binary embedding, ``n_layer`` blocks of
:class:`snnlab.nn.spikegpt.SpikeGPTBlock`, a final LayerNorm and a linear head without bias.
The token axis is the spiking network's time axis, as in the official code.

Two modes of one model: :meth:`SpikeGPT.forward` (parallel, training) and :meth:`SpikeGPT.step`
(recurrent, one token at a time with an explicit state), equal up to rounding.

Registered: ``spikegpt`` (a small CPU-sized default), ``spikegpt_46m`` (12 layers, d 512, context
1024, vocabulary 5458: 46,553,088 parameters) and ``spikegpt_216m`` (18 layers, d 768, vocabulary
50277: 215,399,424); every size is a keyword of each.

``rescale_every`` (off, 0, by default): the official recurrent inference (``RWKV_RESCALE_LAYER =
6``) divides the branch outputs of layer ``l`` by ``2^(l // 6)`` and halves ``x`` after every 6th
layer, for float16 safety. In a plain RWKV that is exact (LayerNorms undo a common scale), but
here the LIF thresholds see the scaled branch inputs, so the recurrent logits stop matching the
parallel (training) ones; when set it applies to :meth:`step` only, as in the official code.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from snnlab.errors import ConfigError, ShapeError
from snnlab.models.layout import TIME_MAJOR
from snnlab.models.registry import register_model
from snnlab.nn.spikegpt import BinaryEmbedding, BlockState, SpikeGPTBlock


class SpikeGPT(nn.Module):
    """The SpikeGPT language model.

    Args:
        vocab_size: tokens in the vocabulary.
        n_layer: blocks.
        dim: model width ``d`` (the feed-forward hidden width is ``4 d``).
        ctx_len: the longest sequence the parallel mode accepts (the training context).
        spiking: ``False`` gives a same-size non-spiking RWKV (no LIFs); the embedding stays as
            ``binary_embedding`` says.
        binary_embedding: Heaviside(embedding) with an ATan surrogate (the paper); ``False``: plain.
        dropout: after every block in training (the official 0.03).
        rescale_every: see the module docstring; 0 disables it.
        backend: kernels of the WKV op and the LIFs (auto, torch, numba, cuda).
        num_classes: set by the trainer from the dataset's vocabulary; overrides ``vocab_size``.
    """

    input_layout = TIME_MAJOR  # x (T, B, ...)

    def __init__(
        self,
        vocab_size: int = 77,
        n_layer: int = 4,
        dim: int = 128,
        ctx_len: int = 128,
        spiking: bool = True,
        binary_embedding: bool = True,
        dropout: float = 0.0,
        rescale_every: int = 0,
        backend: str = "auto",
        num_classes: Optional[int] = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        vocab_size = int(num_classes) if num_classes else vocab_size
        for name, value in (("vocab_size", vocab_size), ("n_layer", n_layer), ("dim", dim), ("ctx_len", ctx_len)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"spikegpt: {name} must be an integer >= 1, got {value!r}")
        if rescale_every < 0:
            raise ConfigError(f"spikegpt: rescale_every must be >= 0 (0 = off), got {rescale_every!r}")
        kw = {"device": device, "dtype": dtype}
        self.vocab_size, self.n_layer, self.dim, self.ctx_len = vocab_size, n_layer, dim, ctx_len
        self.rescale_every = rescale_every
        self.emb = BinaryEmbedding(vocab_size, dim, binary_embedding, **kw)
        self.blocks = nn.ModuleList(
            SpikeGPTBlock(dim, i, n_layer, spiking, dropout, backend, **kw) for i in range(n_layer)
        )
        self.ln_out = nn.LayerNorm(dim, **kw)
        self.head = nn.Linear(dim, vocab_size, bias=False, **kw)

    def _check_tokens(self, idx: torch.Tensor, rank: int) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dim() != rank or idx.is_floating_point():
            want = "(T, B)" if rank == 2 else "(B,)"
            got = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ShapeError(f"spikegpt: expected integer token ids {want}, got {got}")

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Parallel mode: token ids ``(T, B)`` -> logits ``(T, B, vocab)``."""
        self._check_tokens(idx, 2)
        if idx.shape[0] > self.ctx_len:
            raise ShapeError(f"spikegpt: sequence of {idx.shape[0]} tokens is longer than ctx_len {self.ctx_len}")
        x = self.emb(idx.long())  # (T, B, C)
        for block in self.blocks:
            x = block(x)
        return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm and head of both modes: ``(..., C) -> (..., vocab)``."""
        return self.head(self.ln_out(x))

    def initial_state(self, batch: int) -> list[BlockState]:
        """The recurrent state before the first token, for ``batch`` sequences."""
        like = self.head.weight.new_zeros(batch, self.dim)
        return [block.initial_state(like) for block in self.blocks]

    def step(
        self, idx: torch.Tensor, state: Optional[list[BlockState]] = None
    ) -> tuple[torch.Tensor, list[BlockState]]:
        """Recurrent mode: one token per sequence ``(B,)`` -> ``(logits (B, vocab), next state)``."""
        self._check_tokens(idx, 1)
        state = state if state is not None else self.initial_state(idx.shape[0])
        x = self.emb(idx.long())  # (B, C)
        new = []
        for i, block in enumerate(self.blocks):
            scale = 2.0 ** (i // self.rescale_every) if self.rescale_every else 1.0
            x, s = block.step(x, state[i], scale)
            if self.rescale_every and (i + 1) % self.rescale_every == 0:
                x = x / 2.0
            new.append(s)
        return self._logits(x), new


@register_model("spikegpt")
def spikegpt(
    vocab_size: int = 77,
    n_layer: int = 4,
    dim: int = 128,
    ctx_len: int = 128,
    spiking: bool = True,
    binary_embedding: bool = True,
    dropout: float = 0.0,
    rescale_every: int = 0,
    backend: str = "auto",
    num_classes: Optional[int] = None,
) -> SpikeGPT:
    """A SpikeGPT of any size (default: 4 layers, d 128, context 128, a character vocabulary)."""
    return SpikeGPT(
        vocab_size, n_layer, dim, ctx_len, spiking, binary_embedding, dropout, rescale_every, backend, num_classes
    )


@register_model("spikegpt_46m")
def spikegpt_46m(
    vocab_size: int = 5458,
    n_layer: int = 12,
    dim: int = 512,
    ctx_len: int = 1024,
    spiking: bool = True,
    binary_embedding: bool = True,
    dropout: float = 0.03,
    rescale_every: int = 0,
    backend: str = "auto",
    num_classes: Optional[int] = None,
) -> SpikeGPT:
    """SpikeGPT-46M (the enwik8 model): 12 layers, d 512, context 1024, vocabulary 5458."""
    return SpikeGPT(
        vocab_size, n_layer, dim, ctx_len, spiking, binary_embedding, dropout, rescale_every, backend, num_classes
    )


@register_model("spikegpt_216m")
def spikegpt_216m(
    vocab_size: int = 50277,
    n_layer: int = 18,
    dim: int = 768,
    ctx_len: int = 1024,
    spiking: bool = True,
    binary_embedding: bool = True,
    dropout: float = 0.03,
    rescale_every: int = 0,
    backend: str = "auto",
    num_classes: Optional[int] = None,
) -> SpikeGPT:
    """SpikeGPT-216M: 18 layers, d 768, context 1024, the GPT-NeoX vocabulary of 50277 tokens."""
    return SpikeGPT(
        vocab_size, n_layer, dim, ctx_len, spiking, binary_embedding, dropout, rescale_every, backend, num_classes
    )
