"""Activity and energy of a spiking denoiser per generated image.

One network evaluation is profiled with forward hooks (:class:`ActivityRecorder`) on noisy
inputs ``x_t`` at steps spread over the sampler's schedule; a sample costs that profile times
the number of evaluations of the sampler (DDIM: its step count; DDPM: the chain length).
Convolutions fed by spikes count accumulates (ACs), those fed by real values (the stem on the
image, 1x1 shortcuts on membranes, the output head) multiply-accumulates (MACs).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnlab.analysis.hooks import ActivityRecorder
from snnlab.ir.activity import ActivityProfile


@torch.no_grad()
def denoiser_activity(
    model: nn.Module,
    schedule: Any,
    timesteps: list[int],
    batch: int = 8,
    seed: int = 0,
    images: torch.Tensor | None = None,
) -> ActivityProfile:
    """Profile of ONE network evaluation per sample, averaged over the diffusion steps ``timesteps``.

    ``images`` (B, C, S, S) in [-1, 1], when given, are noised to ``x_t`` with ``q_sample`` (what
    the sampler sees near the data); without them ``x_t`` is standard Gaussian noise.
    """
    gen = torch.Generator().manual_seed(seed)
    batch = batch if images is None else min(batch, images.shape[0])
    shape = (batch, model.in_channels, model.image_size, model.image_size)
    with ActivityRecorder(model) as rec:
        for step in timesteps:
            x = torch.randn(shape, generator=gen)
            if images is not None:
                t = torch.full((batch,), int(step), dtype=torch.long)
                x = schedule.q_sample(images[:batch], t, x)
            model(x, torch.full((batch,), int(step), dtype=torch.long))
    return rec.profile(samples=batch * len(timesteps), timesteps=int(getattr(model, "T", 1)))


def firing_rates(profile: ActivityProfile) -> dict[str, float]:
    """Spikes per neuron per SNN step of each IF layer, and the mean over all neurons."""
    layers = [l for l in profile.layers if l.kind == "neuron"]
    rates = {l.name: float(l.output_rate) for l in layers}
    total_n = sum(l.n_neurons for l in layers)
    rates["mean"] = float(sum(l.output_rate * l.n_neurons for l in layers) / total_n) if total_n else 0.0
    return rates


def per_sample_costs(profile: ActivityProfile, evaluations: int, hw_names: list[str]) -> dict[str, Any]:
    """SynOps (ACs, MACs) and energy per generated image on each chip and by the 45 nm convention."""
    from snnlab.hw import estimate

    one = profile.per_inference()
    tot = one.totals()
    out: dict[str, Any] = {
        "evaluations": evaluations,
        "acs": tot["acs"] * evaluations,
        "macs": tot["macs"] * evaluations,
        "spikes": tot["spikes"] * evaluations,
        "dense_ops": sum(l.dense_ops for l in one.layers) * evaluations,
        "energy_j": {},
    }
    out["energy_j"]["cmos45 (E_MAC 4.6 pJ, E_AC 0.9 pJ)"] = (
        estimate(one, None, method="spikformer").total_j * evaluations
    )
    for name in hw_names:
        out["energy_j"][name] = estimate(one, name).total_j * evaluations
    return out
