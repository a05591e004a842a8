"""Evaluation of a language model: bits per character, firing rates, synaptic operations and
energy per token on chip profiles (the cost model of :mod:`snnlab.hw.energy`).

Counting follows :class:`snnlab.analysis.hooks.ActivityRecorder`: a linear map charges an
accumulate (AC) per non-zero input when its input is spikes, a multiply-accumulate (MAC)
otherwise. In SpikeGPT the linear maps read LayerNorm outputs of the real-valued residual
stream, so they count as MACs; the spikes are the branch outputs added to that stream. The WKV
recurrence itself (a few operations per channel and token) is not counted.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from snnlab.analysis.hooks import ActivityRecorder
from snnlab.errors import ConfigError


@torch.no_grad()
def lm_pass(model: torch.nn.Module, dataset: Any, batch_size: int, limit: Optional[int]) -> tuple[float, int, Any]:
    """Mean next-token cross-entropy (nats), tokens, and the activity profile over the windows."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit!r}")
    model.eval()
    total, tokens = 0.0, 0
    with ActivityRecorder(model) as rec:
        for lo in range(0, n, batch_size):
            x, y = dataset.collate_fn([dataset[i] for i in range(lo, min(n, lo + batch_size))])  # (T, B)
            logits = model(x)
            total += float(
                torch.nn.functional.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
                )
            )
            tokens += y.numel()
    return total / tokens, tokens, rec.profile(samples=n, timesteps=int(dataset.ctx_len))


def dense_macs_per_token(model: torch.nn.Module) -> int:
    """MACs per token of the same network run densely (every weight of every linear map once)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def energy_per_token(profile: Any, hw: Sequence[str], tokens_per_window: int, dense_macs: int) -> dict[str, float]:
    """Joules per token on each chip profile, plus the 45 nm MAC/AC convention and the dense ANN."""
    from snnlab.hw.energy import E_MAC_45NM, estimate

    out = {name: estimate(profile, name).total_j / tokens_per_window for name in hw}
    out["cmos45_mac_ac"] = estimate(profile, None, method="spikformer").total_j / tokens_per_window
    out["ann_dense_mac_45nm"] = E_MAC_45NM * dense_macs
    return out


def evaluate_lm(
    model: torch.nn.Module, dataset: Any, hw: Sequence[str], batch_size: int = 32, limit: Optional[int] = None
) -> dict[str, Any]:
    """BPC, firing rate per spiking layer, synaptic operations and energy per token of ``dataset``."""
    loss, tokens, profile = lm_pass(model, dataset, batch_size, limit)
    per_token = 1.0 / (profile.samples * profile.timesteps)
    layers = profile.layers
    acs, macs = sum(l.acs for l in layers) * per_token, sum(l.macs for l in layers) * per_token
    return {
        "bpc": loss / math.log(2.0),
        "loss": loss,
        "ppl": math.exp(min(loss, 700.0)),
        "tokens": tokens,
        "firing_rates": {l.name: l.output_rate for l in layers if l.kind == "neuron"},
        "synops_per_token": acs + macs,
        "acs_per_token": acs,
        "macs_per_token": macs,
        "dense_macs_per_token": dense_macs_per_token(model),
        "energy_per_token_j": energy_per_token(profile, hw, profile.timesteps, dense_macs_per_token(model)),
    }
