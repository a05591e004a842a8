"""Outside oracles: spikingjelly's multi-step neurons and norse's LIF on the same inputs.

Mappings (float64, so no threshold ties):

- spikingjelly ``LIFNode(tau, decay_input, v_threshold, v_reset, ATan(alpha), detach_reset,
  step_mode="m")`` is snnlab ``LIF`` with the same arguments; its ``/ tau`` equals our ``* (1/tau)``
  exactly for tau = 2. ``IFNode`` is ``IF``; ``ParametricLIFNode(init_tau)`` is ``PLIF(init_tau)``
  (both learn ``w`` with ``1/tau = sigmoid(w)``).
- norse ``lif_feed_forward_step`` (current-based, Euler with ``dt``) adds the input to the current
  *before* the membrane update, then decays the current: with ``c_s = dt * tau_syn_inv`` and
  ``c_m = dt * tau_mem_inv`` it is snnlab ``CubaLIF(tau_syn=1/c_s, tau_mem=1/c_m, r=1,
  w_in=tau_syn)`` (our current ``i[t] = (1 - c_s) i[t-1] + x[t]`` is norse's jumped current).
  norse's reset ``(1 - z) v + z v_reset`` (not detached) equals ours for ``v_reset = 0``;
  its ``triangle`` slope ``alpha relu(1 - |x|)`` is our ``Triangle(alpha=1)`` for norse ``alpha=1``
  (norse 1.1's ``super`` ignores alpha: ``1 / (|x| + 1)^2``, no snnlab surrogate equals it).
"""

from __future__ import annotations

import pytest
import torch

from snnlab.nn import IF, LIF, PLIF, CubaLIF
from snnlab.surrogate import ATan, Triangle

# The default suite checks the oracles against the torch reference; the numba kernels equal that
# reference in tests/kernels/test_kernels_equivalence.py, and their runs here (float64 variants that
# take tens of seconds to compile) are in the slow target.
CPU_BACKENDS = ["torch", pytest.param("numba", marks=pytest.mark.slow)]


pytestmark = pytest.mark.peers


def _input(seed: int = 0, shape=(20, 3, 16)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * 1.5 + 0.6


def _compare(ours: torch.nn.Module, theirs: torch.nn.Module, params=()):
    x1, x2 = _input().requires_grad_(), _input().requires_grad_()
    w = torch.rand(x1.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    s1, s2 = ours(x1), theirs(x2)
    assert s1.sum() > 0
    torch.testing.assert_close(s1, s2, rtol=0, atol=0)
    (w * s1).sum().backward()
    (w * s2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-9, atol=1e-12)
    for a, b in params:
        torch.testing.assert_close(a.grad.reshape(()), b.grad.reshape(()), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cpu_backend", CPU_BACKENDS)
@pytest.mark.parametrize(
    "v_reset,decay_input,detach_reset", [(0.0, True, False), (None, True, True), (0.0, False, False)]
)
def test_lif_matches_spikingjelly(cpu_backend, v_reset, decay_input, detach_reset):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    sg = pytest.importorskip("spikingjelly.activation_based.surrogate")
    kw = dict(v_threshold=1.0, v_reset=v_reset, decay_input=decay_input, detach_reset=detach_reset)
    ours = LIF(tau=2.0, surrogate=ATan(2.0), backend=cpu_backend, **kw)
    theirs = sj.LIFNode(tau=2.0, surrogate_function=sg.ATan(alpha=2.0), step_mode="m", **kw).double()
    _compare(ours, theirs)


@pytest.mark.parametrize("cpu_backend", CPU_BACKENDS)
@pytest.mark.parametrize("v_reset", (0.0, None))
def test_if_matches_spikingjelly(cpu_backend, v_reset):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    sg = pytest.importorskip("spikingjelly.activation_based.surrogate")
    ours = IF(v_reset=v_reset, surrogate=ATan(2.0), backend=cpu_backend)
    theirs = sj.IFNode(v_reset=v_reset, surrogate_function=sg.ATan(alpha=2.0), step_mode="m").double()
    _compare(ours, theirs)


@pytest.mark.parametrize("cpu_backend", CPU_BACKENDS)
def test_plif_matches_spikingjelly(cpu_backend):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    sg = pytest.importorskip("spikingjelly.activation_based.surrogate")
    ours = PLIF(init_tau=3.0, surrogate=ATan(2.0), backend=cpu_backend, dtype=torch.float64)
    theirs = sj.ParametricLIFNode(init_tau=3.0, surrogate_function=sg.ATan(alpha=2.0), step_mode="m").double()
    with torch.no_grad():  # spikingjelly rounds its initial w through float32
        ours.w.copy_(theirs.w.reshape(()))
    _compare(ours, theirs, params=[(ours.w, theirs.w)])


class _NorseLIF(torch.nn.Module):
    """norse's feed-forward LIF step over time (the oracle's own equation, looped)."""

    def __init__(self, tau_syn: float, tau_mem: float, dt: float = 1e-3) -> None:
        super().__init__()
        from norse.torch.functional.lif import LIFFeedForwardState, LIFParameters

        self.p = LIFParameters(
            tau_syn_inv=torch.tensor(1.0 / (tau_syn * dt)),
            tau_mem_inv=torch.tensor(1.0 / (tau_mem * dt)),
            v_leak=torch.tensor(0.0),
            v_th=torch.tensor(1.0),
            v_reset=torch.tensor(0.0),
            method="triangle",
            alpha=1.0,
        )
        self.state_cls, self.dt = LIFFeedForwardState, dt

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from norse.torch.functional.lif import lif_feed_forward_step

        state = self.state_cls(v=torch.zeros_like(x[0]), i=torch.zeros_like(x[0]))
        out = []
        for t in range(x.shape[0]):
            z, state = lif_feed_forward_step(x[t], state, self.p, self.dt)
            out.append(z)
        return torch.stack(out)


@pytest.mark.parametrize("cpu_backend", CPU_BACKENDS)
def test_cuba_lif_matches_norse(cpu_backend):
    pytest.importorskip("norse")
    ours = CubaLIF(
        tau_syn=4.0,
        tau_mem=2.0,
        r=1.0,
        v_leak=0.0,
        w_in=4.0,
        v_threshold=1.0,
        v_reset=0.0,
        surrogate=Triangle(1.0),
        backend=cpu_backend,
    )
    x1, x2 = (_input(2) * 0.5).requires_grad_(), (_input(2) * 0.5).requires_grad_()
    s1, s2 = ours(x1), _NorseLIF(4.0, 2.0)(x2)
    assert s1.sum() > 0
    torch.testing.assert_close(s1, s2.to(s1.dtype), rtol=0, atol=0)
    w = torch.rand(x1.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (w * s1).sum().backward()
    (w * s2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-7, atol=1e-9)
