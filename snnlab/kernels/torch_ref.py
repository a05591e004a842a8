"""The reference backend: plain torch over the one time loop of :mod:`snnlab.functional`.

Autograd differentiates it directly; every fast kernel is tested equal to it.
"""

from __future__ import annotations

from typing import Optional

import torch

from snnlab.functional.neuron import KINDS, NeuronParams, run_sequence
from snnlab.functional.surrogate import Surrogate
from snnlab.kernels.registry import register


def is_available() -> bool:
    return True


def why_not() -> str:
    return ""


def _multistep(kind: str):
    def kernel(
        x_seq: torch.Tensor,
        state: tuple,
        p: NeuronParams,
        surrogate: Optional[Surrogate],
        k: Optional[torch.Tensor] = None,
        return_v: bool = False,
    ):
        """(T, M) input -> (out (T, M), final state, v_seq (T, M) or None)."""
        return run_sequence(kind, x_seq, state, p, surrogate, k=k, return_v=return_v)

    kernel.__name__ = f"{kind}_multistep_torch"
    return kernel


for _kind in KINDS:
    register(f"neuron.{_kind}", "torch")(_multistep(_kind))


import snnlab.kernels.common.batch_norm  # noqa: E402,F401  (registers the batch_norm.rows reference)
import snnlab.kernels.common.bit_conv  # noqa: E402,F401  (registers the conv2d.binary reference)
import snnlab.kernels.common.bn_neuron  # noqa: E402,F401  (registers the batch_norm.neuron reference)
import snnlab.kernels.common.max_pool  # noqa: E402,F401  (registers the max_pool2d.rows reference)
import snnlab.kernels.common.spike_conv  # noqa: E402,F401  (registers the conv2d.spikes reference)
import snnlab.kernels.common.spike_linear  # noqa: E402,F401  (registers the linear.spikes reference)
import snnlab.kernels.torch_delay  # noqa: E402,F401  (registers the delay reference ops)
from snnlab.functional.wkv import wkv as _wkv  # noqa: E402

register("wkv", "torch")(_wkv)
