"""Kernel code shared by the numba (CPU) and numba-cuda backends; registers nothing.

- :mod:`~snnlab.kernels.common.equations`: the per-step rules of the fused neuron kernels
  (forward from :mod:`snnlab.functional.equations`, hand-written derivatives for backward).
- :mod:`~snnlab.kernels.common.fused`: the fused multi-step neuron op (autograd Function,
  parameter packing, one ``register_neuron_kernels`` that each backend calls with its launcher).
"""
