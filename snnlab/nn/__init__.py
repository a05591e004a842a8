"""Thin modules over :mod:`snnlab.functional`: neurons, encoders and multi-step layers (time-major)."""

from snnlab.nn.batch_norm import BatchNorm1d
from snnlab.nn.bn_neuron import batch_norm_neuron
from snnlab.nn.encoders import DeltaEncoder, DirectEncoder, LatencyEncoder, PoissonEncoder
from snnlab.nn.layers import Flatten, SeqDropout, TimeDistributed
from snnlab.nn.neuron import ALIF, IF, LI, LIF, PLIF, CubaLIF, SpikingNeuron, neuron_class, reset
from snnlab.nn.spike_linear import SpikeLinear

__all__ = [
    "ALIF",
    "BatchNorm1d",
    "batch_norm_neuron",
    "IF",
    "LI",
    "LIF",
    "PLIF",
    "CubaLIF",
    "SpikingNeuron",
    "neuron_class",
    "reset",
    "DeltaEncoder",
    "DirectEncoder",
    "LatencyEncoder",
    "PoissonEncoder",
    "Flatten",
    "SeqDropout",
    "SpikeLinear",
    "TimeDistributed",
]


def __getattr__(name: str):
    # Layers owned by other modules are imported lazily (delays, etc.).
    if name in ("DelayedLinear",):
        from snnlab.nn import delay

        return getattr(delay, name)
    raise AttributeError(f"module 'snnlab.nn' has no attribute {name!r}")
