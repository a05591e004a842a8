"""The simulator's engines in the one backend registry: op ``sim_engine``.

An engine runs a compiled :class:`~snnlab.sim.plan.Plan` (or, for the dense reference, the
flat graph itself) and offers ``t``, ``reset(batch)``, ``advance(x (T, B, N_in))`` and
``counts()``. Each is registered with :func:`snnlab.kernels.registry.register` under
``("sim_engine", backend)``, beside the neuron kernels:

- ``numba``: :class:`~snnlab.sim.engine.NumbaEngine`, parallel CPU loops (what ``auto`` picks);
- ``cuda``: :class:`~snnlab.sim.cuda_kernels.CudaEngine` (numba-cuda; a GPU or
  ``NUMBA_ENABLE_CUDASIM=1``), never picked by ``auto``;
- ``reference``: :class:`~snnlab.sim.reference.DenseReference`, dense numpy over the graph, a
  simulator-only backend declared here with :func:`~snnlab.kernels.registry.add_backend`.

Factories import their engine on first use, and the lookup does not load the kernel backend
packages, so choosing an engine imports no torch.
"""

from __future__ import annotations

from typing import Any

from snnlab.errors import BackendError
from snnlab.kernels.registry import KERNELS, add_backend, register

OP = "sim_engine"
add_backend("reference", "snnlab.sim.reference")


@register(OP, "numba")
def numba_engine(plan: Any, graph: Any, dtype: Any, record: dict[str, str]) -> Any:
    """The numba CPU engine over ``plan``."""
    from snnlab.sim.engine import NumbaEngine

    return NumbaEngine(plan, dtype, record)


@register(OP, "cuda")
def cuda_engine(plan: Any, graph: Any, dtype: Any, record: dict[str, str]) -> Any:
    """The numba-cuda engine over ``plan``; BackendError when no GPU (or CUDA simulator) is there."""
    from snnlab.sim import cuda_kernels

    why = cuda_kernels.why_not()
    if why:
        raise BackendError(f"backend 'cuda' {why}; use 'numba'")
    return cuda_kernels.CudaEngine(plan, dtype, record)


@register(OP, "reference")
def reference_engine(plan: Any, graph: Any, dtype: Any, record: dict[str, str]) -> Any:
    """The dense numpy reference over the flat graph (NIR graphs only, not a ``Network``)."""
    if graph is None:
        raise BackendError("backend 'reference' runs NIR graphs only; use 'numba' for a Network")
    from snnlab.sim.reference import DenseReference

    return DenseReference(graph, dtype, record)


def engine_backends() -> tuple[str, ...]:
    """Backends with a registered simulator engine, in registration order."""
    return tuple(key[1] for key in KERNELS.keys() if isinstance(key, tuple) and key[0] == OP)


def resolve(backend: str) -> str:
    """``auto`` -> ``numba``; an explicit name must have an engine (BackendError listing them)."""
    name = "numba" if backend == "auto" else backend
    if (OP, name) not in KERNELS:
        raise BackendError(f"backend {backend!r} is not valid; choose one of auto, {', '.join(engine_backends())}")
    return name


def make_engine(backend: str, plan: Any, graph: Any, dtype: Any, record: dict[str, str]) -> Any:
    """The engine of a resolved ``backend`` over ``plan`` (and ``graph``, None for a ``Network``)."""
    return KERNELS.get((OP, backend))(plan, graph, dtype, record)
