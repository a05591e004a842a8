"""Twins of snnlab networks on a peer library's neurons, for oracle tests and benchmarks.

:func:`spikingjelly_twin` gives the same network (same layers, same weights) in which every
:class:`snnlab.nn.LIF` is spikingjelly's multi-step ``LIFNode`` (its torch code) with the same
``tau``, threshold, reset, ``decay_input``, ``detach_reset`` and surrogate, and every
:class:`snnlab.nn.spike_conv.SpikeConv2d` / ``BatchNorm2d`` is torch's ``nn.Conv2d`` /
``nn.BatchNorm2d``. The twin is thus the plain torch network a peer user builds, with the same
values, so outputs and gradients can be compared and steps timed. spikingjelly is an optional peer (extra ``[peers]``); it is imported only here.
"""

from __future__ import annotations

import copy

import torch

from snnlab.nn.neuron import LIF
from snnlab.nn.spike_conv import plain_copy, replace_layers

SURROGATES = ("Sigmoid", "ATan")  # snnlab surrogates with a spikingjelly namesake of the same formula


def _peer_lif(lif: LIF) -> torch.nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    name = lif.surrogate.name
    if name not in SURROGATES:
        raise ValueError(
            f"spikingjelly_twin: surrogate {name} has no spikingjelly twin; valid: {', '.join(SURROGATES)}"
        )
    p = lif.params
    return neuron.LIFNode(
        tau=p.tau,
        v_threshold=p.v_threshold,
        v_reset=p.v_reset,
        decay_input=p.decay_input,
        detach_reset=p.detach_reset,
        surrogate_function=getattr(surrogate, name)(alpha=lif.surrogate.alpha),
        step_mode="m",
    )


def spikingjelly_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` with every snnlab ``LIF`` replaced by spikingjelly's ``LIFNode``.

    The twin keeps spikingjelly's state between calls: reset it after each batch
    (``spikingjelly.activation_based.functional.reset_net``), as its users do.
    """
    twin = replace_layers(copy.deepcopy(model), plain_copy)  # torch's Conv2d / BatchNorm2d, as a peer user has
    return replace_layers(twin, lambda m: _peer_lif(m) if isinstance(m, LIF) else m)
