"""SpikeGPT layers (Zhu et al., TMLR 2024): a spiking RWKV, time-major over tokens ``(T, B, C)``.

The token position is the spiking network's time step: every block is::

    x = x + LIF(SRWKV(LN1(x)))          # LIF runs along the token axis (tau 2, threshold 1, ATan 2)
    x = x + LIF(SRFFN(LN2(x)))

with the token shift ``x'_t = mu x_t + (1 - mu) x_{t-1}`` (``x_{-1} = 0``) feeding each linear map;
``SRWKV = W_o (sigmoid(W_r x'_r) * wkv(w, u, W_k x'_k, W_v x'_v))`` with ``w = -exp(time_decay)``
and ``u = time_first``; ``SRFFN = sigmoid(W_r x'_r) * W_v relu(W_k x'_k)^2`` (hidden ``4 d``).

Every layer runs in two modes of the same weights: parallel (``forward``: a whole sequence, for
training) and recurrent (``step``: one token, carrying the previous token, the WKV sums and the
LIF membranes in an explicit state), whose outputs are equal.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional

import torch
from torch import nn

from snnlab.functional import neuron as NF
from snnlab.functional.surrogate import ATan
from snnlab.functional.wkv import WKVState, initial_wkv_state, wkv_step
from snnlab.kernels import dispatch, get_backend
from snnlab.nn.neuron import LIF, SpikingNeuron


def token_shift(x: torch.Tensor) -> torch.Tensor:
    """The previous token of every position, zero at the first: ``(T, B, C) -> (T, B, C)``."""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]], dim=0)


def mix(x: torch.Tensor, prev: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Token-shift interpolation ``mu x + (1 - mu) x_prev``."""
    return x * mu + prev * (1.0 - mu)


def neuron_step(neuron: SpikingNeuron, x: torch.Tensor, state: Optional[tuple]) -> tuple[torch.Tensor, tuple]:
    """One time step of a multi-step neuron module with an explicit state: ``(B, C) -> (B, C)``."""
    flat = x.reshape(1, -1)  # (1, M)
    if state is None:
        state = NF.initial_state(neuron.kind, neuron.params, flat[0])
    backend = get_backend(neuron.backend, flat, op=f"neuron.{neuron.kind}")
    out, state, _ = dispatch(f"neuron.{neuron.kind}", backend, flat, state, neuron.params, neuron.surrogate)
    return out.reshape(x.shape), state


def spikegpt_lif(backend: str = "auto") -> LIF:
    """The branch neuron of SpikeGPT: LIF tau 2, threshold 1, hard reset to 0, ATan(alpha 2)."""
    return LIF(
        tau=2.0,
        v_threshold=1.0,
        v_reset=0.0,
        decay_input=True,
        detach_reset=False,
        surrogate=ATan(2.0),
        backend=backend,
    )


class BinaryEmbedding(nn.Module):
    """Token embedding, binarised by a Heaviside step with an ATan(alpha 2) surrogate gradient.

    ``binary=False`` gives the plain embedding (the non-spiking RWKV baseline).
    """

    def __init__(self, vocab_size: int, dim: int, binary: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim, device=device, dtype=dtype)
        self.binary = binary
        self.spike = ATan(2.0)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids ``(T, B)`` (or ``(B,)``) -> embeddings ``(T, B, C)`` (``(B, C)``) in {0, 1}."""
        x = self.emb(idx)
        return self.spike(x) if self.binary else x


def _ramp(dim: int) -> torch.Tensor:
    return torch.arange(dim, dtype=torch.float64) / dim  # h / C


def _param(value: torch.Tensor, device=None, dtype=None) -> torch.Tensor:
    return value.to(device=device, dtype=dtype or torch.get_default_dtype())


class SRWKV(nn.Module):
    """Spiking RWKV attention (time mixing) of layer ``layer`` of ``n_layer`` (the paper's init)."""

    def __init__(self, dim: int, layer: int, n_layer: int, backend: str = "auto", device=None, dtype=None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        ratio_0_1 = layer / max(n_layer - 1, 1)
        ratio_1_0 = 1.0 - layer / n_layer
        h = torch.arange(dim, dtype=torch.float64)
        decay = -5.0 + 8.0 * (h / max(dim - 1, 1)) ** (0.7 + 1.3 * ratio_0_1)
        zigzag = 0.5 * ((h + 1) % 3 - 1)
        x = _ramp(dim)
        init = {
            "time_decay": decay,
            "time_first": math.log(0.3) + zigzag,
            "time_mix_k": x**ratio_1_0,
            "time_mix_v": x**ratio_1_0 + 0.3 * ratio_0_1,
            "time_mix_r": x ** (0.5 * ratio_1_0),
        }
        for name, value in init.items():
            setattr(self, name, nn.Parameter(_param(value, device, dtype)))
        self.key, self.value, self.receptance, self.output = (nn.Linear(dim, dim, bias=False, **kw) for _ in range(4))
        self.backend = backend

    def _attend(self, x: torch.Tensor, prev: torch.Tensor, wkv: Callable) -> tuple[torch.Tensor, Any]:
        """``W_o (sigmoid(r) * wkv(w, u, k, v))`` of the mixed inputs; ``wkv`` is the mode's operator and
        returns ``(y, its new state or None)``."""
        k = self.key(mix(x, prev, self.time_mix_k))
        v = self.value(mix(x, prev, self.time_mix_v))
        r = self.receptance(mix(x, prev, self.time_mix_r))
        y, state = wkv(-torch.exp(self.time_decay), self.time_first, k, v)
        return self.output(torch.sigmoid(r) * y), state

    def _wkv_sequence(self, w: torch.Tensor, u: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple:
        kb, vb = k.transpose(0, 1), v.transpose(0, 1)  # (B, T, C): the op's layout
        y = dispatch("wkv", get_backend(self.backend, kb, op="wkv"), w, u, kb, vb)
        return y.transpose(0, 1), None  # (T, B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, C) -> (T, B, C)``, the whole sequence."""
        return self._attend(x, token_shift(x), self._wkv_sequence)[0]

    def step(self, x: torch.Tensor, prev: torch.Tensor, state: WKVState) -> tuple[torch.Tensor, WKVState]:
        """One token ``(B, C)`` given the previous one and the WKV state -> ``(out (B, C), state)``."""
        return self._attend(x, prev, lambda w, u, k, v: wkv_step(w, u, k, v, state))


class SRFFN(nn.Module):
    """Spiking RWKV feed-forward (channel mixing): squared ReLU, receptance gate, hidden ``4 d``."""

    def __init__(self, dim: int, layer: int, n_layer: int, hidden_mult: int = 4, device=None, dtype=None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        mu = _ramp(dim) ** (1.0 - layer / n_layer)
        self.time_mix_k = nn.Parameter(_param(mu, device, dtype))
        self.time_mix_r = nn.Parameter(_param(mu, device, dtype))
        self.key = nn.Linear(dim, hidden_mult * dim, bias=False, **kw)
        self.receptance = nn.Linear(dim, dim, bias=False, **kw)
        self.value = nn.Linear(hidden_mult * dim, dim, bias=False, **kw)

    def _out(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        k = torch.square(torch.relu(self.key(mix(x, prev, self.time_mix_k))))
        return torch.sigmoid(self.receptance(mix(x, prev, self.time_mix_r))) * self.value(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, C) -> (T, B, C)``."""
        return self._out(x, token_shift(x))

    def step(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """One token ``(B, C)`` given the previous one."""
        return self._out(x, prev)


class BlockState(NamedTuple):
    """Recurrent state of one block: previous (normalised) inputs, WKV sums, LIF states."""

    att_prev: torch.Tensor  # (B, C)
    ffn_prev: torch.Tensor  # (B, C)
    wkv: WKVState
    lif_att: Optional[tuple]
    lif_ffn: Optional[tuple]


class SpikeGPTBlock(nn.Module):
    """``x + LIF(SRWKV(LN1 x))``, then ``x + LIF(SRFFN(LN2 x))``; LN0 first in layer 0.

    Args:
        spiking: ``False`` drops both LIFs (a plain RWKV block, the non-spiking baseline).
        dropout: applied to the block output in training (the paper's 0.03).
    """

    def __init__(
        self,
        dim: int,
        layer: int,
        n_layer: int,
        spiking: bool = True,
        dropout: float = 0.0,
        backend: str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.ln0 = nn.LayerNorm(dim, **kw) if layer == 0 else None
        self.ln1, self.ln2 = nn.LayerNorm(dim, **kw), nn.LayerNorm(dim, **kw)
        self.att = SRWKV(dim, layer, n_layer, backend, **kw)
        self.ffn = SRFFN(dim, layer, n_layer, **kw)
        self.lif_att = spikegpt_lif(backend) if spiking else None
        self.lif_ffn = spikegpt_lif(backend) if spiking else None
        self.drop = nn.Dropout(dropout)

    def _residual(self, x: torch.Tensor, att: Callable, ffn: Callable) -> tuple[torch.Tensor, tuple]:
        """The block equation once: ``x + att(LN1 x)``, then ``+ ffn(LN2 x)`` (LN0 first in layer 0).

        ``att`` and ``ffn`` are the mode's branches (mixing, projection and LIF) and return
        ``(output, branch state)``; the result is ``(x, (LN1 x, att state, LN2 x, ffn state))``.
        """
        if self.ln0 is not None:
            x = self.ln0(x)
        xa = self.ln1(x)
        a, att_state = att(xa)
        x = x + a
        xf = self.ln2(x)
        f, ffn_state = ffn(xf)
        return x + f, (xa, att_state, xf, ffn_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, C) -> (T, B, C)``."""
        x, _ = self._residual(
            x,
            lambda xa: (self._fire_sequence(self.lif_att, self.att(xa)), None),
            lambda xf: (self._fire_sequence(self.lif_ffn, self.ffn(xf)), None),
        )
        return self.drop(x)

    def initial_state(self, like: torch.Tensor) -> BlockState:
        """Empty history for a batch shaped like ``like (B, C)``."""
        zero = torch.zeros_like(like)
        return BlockState(zero, zero.clone(), initial_wkv_state(like), None, None)

    def step(self, x: torch.Tensor, state: BlockState, scale: float = 1.0) -> tuple[torch.Tensor, BlockState]:
        """One token ``(B, C)``; ``scale`` divides the branch outputs (the official inference rescale)."""

        def att(xa: torch.Tensor) -> tuple[torch.Tensor, tuple]:
            a, wkv = self.att.step(xa, state.att_prev, state.wkv)
            a, lif = self._fire(self.lif_att, a / scale, state.lif_att)
            return a, (wkv, lif)

        def ffn(xf: torch.Tensor) -> tuple[torch.Tensor, Optional[tuple]]:
            return self._fire(self.lif_ffn, self.ffn.step(xf, state.ffn_prev) / scale, state.lif_ffn)

        x, (xa, (wkv, lif_att), xf, lif_ffn) = self._residual(x, att, ffn)
        return x, BlockState(xa, xf, wkv, lif_att, lif_ffn)

    @staticmethod
    def _fire_sequence(lif: Optional[LIF], x: torch.Tensor) -> torch.Tensor:
        return x if lif is None else lif(x)  # (T, B, C): the LIF runs along the token axis

    @staticmethod
    def _fire(lif: Optional[LIF], x: torch.Tensor, state: Optional[tuple]) -> tuple[torch.Tensor, Optional[tuple]]:
        return (x, None) if lif is None else neuron_step(lif, x, state)
