"""Direct API for networks that are not trained models (Vogels-Abbott CUBA, reservoirs).

Populations are updated in the order they are added. A projection's ``delay`` (steps, >= 1
by default) is the step at which a spike of step ``t`` enters the target's input: ``t +
delay``. A delay of 0 is allowed only towards a population added later (it is then seen in
the same step); this matches brian2, where an ``on_pre`` effect with zero delay is first
integrated at the next step (a brian2 delay of ``k`` steps is a delay of ``k + 1`` here).
brian2's ``method="euler"`` would also leak an input once before integrating it; the exact
brian2 counterpart of the update below therefore integrates a summed input variable ``I``
explicitly at the start of each step (``v = v + a_leak*(v_rest - v) + a_in*I; I = 0``), as
``benchmarks/brian2_network.py`` does; tests/sim/test_sim_peers.py checks equal spikes.

Neuron model ``"lif"`` with optional synaptic variables (one per receptor, jumps by the
synaptic weight and decays with ``tau_syn``): a current, or, when the receptor has a
reversal potential ``e_rev_k``, a conductance (in units of the leak conductance)::

    g_k = (1 - dt/tau_syn_k) g_k + in_k;   v = v + dt/tau_m (v_rest - v + r sum_k drive_k)
    drive_k = g_k (current)   or   g_k (e_rev_k - v) (conductance)

held during the refractory period after a spike, reset to ``v_reset``. This is forward Euler
of brian2's ``dv/dt = (g_e (E_e - v) + g_i (E_i - v) - (v - E_l) + I)/tau_m`` with
``v_rest = E_l + I`` (``vogels_abbott_coba``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from snnlab.errors import ConfigError
from snnlab.sim.plan import CSR, NEURON, SOURCE, Plan, Population, Projection, csr_from_coo, per_unit

RULES = ("all_to_all", "one_to_one", "fixed_probability", "explicit")


class Network:
    """Populations, sources and projections; ``simulator()`` compiles them for the kernels.

    Args:
        dt: seconds per step.
        seed: seed of connectivity, initial values and Poisson sources.
    """

    def __init__(self, dt: float, seed: int = 0) -> None:
        if not dt > 0:
            raise ConfigError(f"Network dt must be > 0 seconds, got {dt}")
        self.dt, self.rng = float(dt), np.random.default_rng(seed)
        self.plan = Plan(dt=self.dt)
        self.sources: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {}

    def _steps(self, seconds: Any, what: str) -> Any:
        steps = np.asarray(seconds, np.float64) / self.dt
        if np.any(steps < 0):
            raise ConfigError(f"{what} must be >= 0 seconds")
        return np.round(steps).astype(np.int64)

    def lif(
        self,
        name: str,
        n: int,
        tau_m: Any = 20e-3,
        v_rest: Any = 0.0,
        v_th: Any = 1.0,
        v_reset: Any = 0.0,
        r: Any = 1.0,
        refractory: Any = 0.0,
        tau_syn: tuple | None = None,
        v_init: Any = None,
        soft_reset: bool = False,
        e_rev: tuple | None = None,
    ) -> str:
        """Add ``n`` LIF neurons (per-neuron arrays or scalars; times in seconds). Returns ``name``.

        ``e_rev``: per receptor (one per ``tau_syn``) a reversal potential, which makes that
        receptor a conductance, or None for a current.
        """
        taus = [per_unit(tau_m, n)] + [per_unit(t, n) for t in (tau_syn or ())]
        if any(np.any(t < self.dt) for t in taus):
            raise ConfigError(f"population {name!r}: a time constant is below dt={self.dt} s (unstable Euler)")
        a = self.dt / taus[0]
        k = len(taus) - 1
        v0 = per_unit(v_rest if v_init is None else v_init, n)
        if e_rev is not None and len(e_rev) != k:
            raise ConfigError(f"population {name!r}: e_rev needs one entry per tau_syn ({k}), got {len(e_rev)}")
        rev = np.stack([per_unit(np.nan if e is None else e, n) for e in e_rev]) if e_rev is not None and k else None
        pop = Population(
            name,
            NEURON,
            n,
            (n,),
            "LIF",
            spiking=True,
            soft_reset=soft_reset,
            n_currents=k,
            a_leak=a,
            a_in=a * per_unit(r, n),
            v_leak=v_rest,
            v_th=v_th,
            v_reset=v_reset,
            v_init=v0,
            decay=np.stack([1 - self.dt / t for t in taus[1:]]) if k else None,
            gain=np.ones((k, n)) if k else None,
            e_rev=rev,
            refractory=self._steps(refractory, "refractory"),
        )
        return self._add(pop)

    def _add(self, pop: Population) -> str:
        if any(p.name == pop.name for p in self.plan.populations):
            raise ConfigError(f"population {pop.name!r} exists already")
        self.plan.populations.append(pop)
        return pop.name

    def poisson(self, name: str, n: int, rate_hz: Any) -> str:
        """Add ``n`` Poisson sources (rate per source in Hz), drawn per run."""
        p = per_unit(rate_hz, n) * self.dt
        if np.any(p > 1) or np.any(p < 0):
            raise ConfigError(f"source {name!r}: rate * dt must lie in [0, 1], got up to {p.max()}")
        self.sources[name] = lambda steps, batch, rng: (rng.random((steps, batch, n)) < p).astype(np.float64)
        return self._add(Population(name, SOURCE, n, (n,), "poisson", spiking=True))

    def spike_array(self, name: str, n: int, steps: Any, neurons: Any) -> str:
        """Add ``n`` sources that fire at the given (step, neuron) pairs in every sample."""
        steps, neurons = np.asarray(steps, np.int64), np.asarray(neurons, np.int64)
        if steps.shape != neurons.shape or (neurons.size and (neurons.min() < 0 or neurons.max() >= n)):
            raise ConfigError(f"source {name!r}: steps and neurons need equal lengths and neurons in [0, {n})")

        def frames(total: int, batch: int, rng: np.random.Generator) -> np.ndarray:
            x = np.zeros((total, batch, n))
            ok = steps < total
            x[steps[ok], :, neurons[ok]] = 1.0
            return x

        self.sources[name] = frames
        return self._add(Population(name, SOURCE, n, (n,), "spike_array", spiking=True))

    def connect(
        self,
        src: str,
        dst: str,
        rule: str = "fixed_probability",
        p: float = 0.1,
        weight: Any = 1.0,
        delay: Any = 1,
        receptor: int = 0,
        pre: Any = None,
        post: Any = None,
        autapses: bool = False,
        name: str | None = None,
    ) -> str:
        """Add a projection by a connectivity rule.

        Args:
            rule: "all_to_all", "one_to_one", "fixed_probability" (each pair with probability ``p``)
                or "explicit" (``pre``/``post`` index arrays).
            weight: scalar, per-synapse array, or callable ``(rng, n_synapses) -> array``.
            delay: steps (scalar, per-synapse array or callable), see the module docstring.
            receptor: which synaptic current of ``dst`` the synapses drive.
        """
        si, di = self.plan.index(src), self.plan.index(dst)
        spop, dpop = self.plan.populations[si], self.plan.populations[di]
        pre_i, post_i = self._pairs(rule, spop.size, dpop.size, p, pre, post, autapses, si == di)
        w = weight(self.rng, pre_i.size) if callable(weight) else per_unit(weight, pre_i.size)
        d = delay(self.rng, pre_i.size) if callable(delay) else per_unit(delay, pre_i.size, np.int64)
        d = np.asarray(d, np.int64)
        if d.size and (d.min() < 0 or (d.min() < 1 and si >= di)):
            raise ConfigError(
                f"projection {src!r}->{dst!r}: delays must be >= 1 step towards a population "
                f"added earlier or itself (>= 0 otherwise)"
            )
        if receptor >= dpop.receptors:
            raise ConfigError(
                f"projection {src!r}->{dst!r}: receptor {receptor} but {dst!r} has {dpop.receptors} input(s)"
            )
        indptr, indices, weights, delays = csr_from_coo(spop.size, pre_i, post_i, w, d)
        name = name or f"{src}->{dst}"
        self.plan.projections.append(
            Projection(name, si, di, CSR, receptor, "synapses", indptr, indices, weights, delays)
        )
        return name

    def _pairs(
        self, rule: str, n_pre: int, n_post: int, p: float, pre: Any, post: Any, autapses: bool, same: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        if rule == "all_to_all":
            pre_i, post_i = np.divmod(np.arange(n_pre * n_post), n_post)
        elif rule == "one_to_one":
            if n_pre != n_post:
                raise ConfigError(f"rule one_to_one needs equal sizes, got {n_pre} and {n_post}")
            pre_i = post_i = np.arange(n_pre)
        elif rule == "fixed_probability":
            if not 0 <= p <= 1:
                raise ConfigError(f"rule fixed_probability needs 0 <= p <= 1, got {p}")
            pre_i, post_i = np.nonzero(self.rng.random((n_pre, n_post)) < p)
        elif rule == "explicit":
            pre_i, post_i = np.asarray(pre, np.int64).reshape(-1), np.asarray(post, np.int64).reshape(-1)
            if pre_i.shape != post_i.shape or (pre_i.size and (pre_i.max() >= n_pre or post_i.max() >= n_post)):
                raise ConfigError("rule explicit needs pre/post index arrays of equal length within the sizes")
        else:
            raise ConfigError(f"connectivity rule {rule!r} is not valid; choose one of {', '.join(RULES)}")
        if same and not autapses and rule != "explicit":
            keep = pre_i != post_i
            pre_i, post_i = pre_i[keep], post_i[keep]
        return np.asarray(pre_i, np.int64), np.asarray(post_i, np.int64)

    def reservoir(
        self,
        name: str,
        n: int,
        p: float = 0.1,
        exc_fraction: float = 0.8,
        w_exc: float = 0.5,
        w_inh: float = -2.0,
        delays: tuple[int, int] = (1, 1),
        **lif: Any,
    ) -> str:
        """A recurrent LIF reservoir (liquid): one population, random E/I recurrent synapses.

        The first ``exc_fraction * n`` neurons are excitatory (weight ``w_exc``), the rest
        inhibitory (``w_inh``); each synapse has an integer delay drawn uniformly from ``delays``.
        """
        self.lif(name, n, **lif)
        n_exc = int(round(exc_fraction * n))
        pre_i, post_i = self._pairs("fixed_probability", n, n, p, None, None, False, True)
        weights = np.where(pre_i < n_exc, w_exc, w_inh)
        dl = self.rng.integers(delays[0], delays[1] + 1, pre_i.size)
        self.connect(name, name, "explicit", pre=pre_i, post=post_i, weight=weights, delay=dl, name=f"{name}.recurrent")
        return name

    def inputs(self, steps: int, batch: int = 1, seed: int = 0) -> list[np.ndarray]:
        """Frames (T, B, n) of every source, in population order."""
        rng = np.random.default_rng(seed)
        return [self.sources[p.name](steps, batch, rng) for p in self.plan.populations if p.model == SOURCE]

    def simulator(
        self,
        backend: str = "auto",
        dtype: Any = np.float32,
        record: list[str] | None = None,
        record_v: list[str] | None = None,
    ) -> Any:
        """A :class:`~snnlab.sim.Simulator` over this network (outputs of ``record`` recorded)."""
        from snnlab.sim.simulator import Simulator

        return Simulator(self.plan, backend=backend, dtype=dtype, record=record, record_v=record_v)

    def run(self, steps: int, batch: int = 1, seed: int = 0, **kw: Any) -> Any:
        """Simulate ``steps`` steps with freshly drawn sources; keyword arguments go to :meth:`simulator`."""
        return self.simulator(**kw).run(self.inputs(steps, batch, seed), steps=steps)


def vogels_abbott_cuba(n: int = 4000, p: float = 0.02, dt: float = 1e-4, seed: int = 0) -> Network:
    """The Vogels-Abbott CUBA benchmark as in brian2's example (volts and seconds).

    80 % excitatory, 20 % inhibitory LIF neurons, tau_m 20 ms, E_l -49 mV, V_th -50 mV,
    V_reset -60 mV, refractory 5 ms, current synapses tau 5 ms (exc) / 10 ms (inh), weights
    1.62 mV and -9 mV, connection probability ``p``, initial v uniform in [V_reset, V_th].
    """
    net = Network(dt, seed)
    n_exc = int(n * 0.8)
    common = dict(tau_m=20e-3, v_rest=-49e-3, v_th=-50e-3, v_reset=-60e-3, refractory=5e-3, tau_syn=(5e-3, 10e-3))
    for name, size in (("exc", n_exc), ("inh", n - n_exc)):
        net.lif(name, size, v_init=-60e-3 + net.rng.random(size) * 10e-3, **common)
    for src, w, rcp in (("exc", (60 * 0.27 / 10) * 1e-3, 0), ("inh", (-20 * 4.5 / 10) * 1e-3, 1)):
        for dst in ("exc", "inh"):
            net.connect(src, dst, "fixed_probability", p=p, weight=w, delay=1, receptor=rcp, autapses=True)
    return net


def vogels_abbott_coba(n: int = 4000, p: float = 0.02, dt: float = 1e-4, seed: int = 0) -> Network:
    """The conductance-based Vogels-Abbott benchmark (COBA of Brette et al. 2007, as brian2 runs it).

    80 % excitatory, 20 % inhibitory LIF neurons, tau_m 20 ms, E_l -60 mV plus a constant drive
    of 20 mV (so ``v_rest`` -40 mV), V_th -50 mV, V_reset -60 mV, refractory 5 ms; conductances
    g_e / g_i (units of the leak conductance) decay with 5 / 10 ms towards reversal potentials
    0 / -80 mV, weights 0.6 and 6.7; connection probability ``p``; initial v normal(-55, 5) mV.
    """
    net = Network(dt, seed)
    n_exc = int(n * 0.8)
    common = dict(
        tau_m=20e-3,
        v_rest=-40e-3,
        v_th=-50e-3,
        v_reset=-60e-3,
        refractory=5e-3,
        tau_syn=(5e-3, 10e-3),
        e_rev=(0.0, -80e-3),
    )
    for name, size in (("exc", n_exc), ("inh", n - n_exc)):
        net.lif(name, size, v_init=-55e-3 + 5e-3 * net.rng.standard_normal(size), **common)
    for src, w, rcp in (("exc", 0.6, 0), ("inh", 6.7, 1)):
        for dst in ("exc", "inh"):
            net.connect(src, dst, "fixed_probability", p=p, weight=w, delay=1, receptor=rcp, autapses=True)
    return net
