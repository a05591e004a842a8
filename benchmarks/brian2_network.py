"""A LIF network with per-synapse delays in brian2, read from and written to ``.npz`` files.

Usage (with the brian2 venv): python brian2_network.py IN.npz OUT.npz [numpy|cython]

The exact-spike oracle for snnlab's direct Network API and for NIR delay-group graphs
(tests/sim/test_sim_peers.py). IN holds: ``steps``, ``dt`` (s), ``n_in``, ``n``, the input
spikes ``in_step``/``in_idx``, synapse lists ``{inp,rec}_{pre,post,w,delay}`` (delays in
brian2 steps) and the unit constants ``a_leak``, ``a_in``, ``v_rest``, ``v_th``, ``v_reset``.
OUT holds the (neuron, step) pairs of every spike as ``idx`` and ``step``.

The discrete update is written explicitly so that it is the one snnlab runs (forward Euler
with the step's input added unleaked): a ``run_regularly`` operation at the start of each
step does ``v = v + a_leak*(v_rest - v) + a_in*I; I = 0``; then brian2 thresholds
(``v >= v_th``), propagates spikes into ``I`` (``on_pre: I_post += w``) and resets. A spike
of step ``s`` with a brian2 delay of ``d`` steps is added to ``I`` at step ``s + d`` after the
threshold, so it is integrated at step ``s + d + 1``: snnlab's delay ``d + 1``.
"""

import sys

import numpy as np
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, Synapses, defaultclock, prefs, second


def main(src: str, dst: str, target: str = "numpy") -> None:
    cfg = np.load(src)
    prefs.codegen.target = target
    dt = float(cfg["dt"])
    defaultclock.dt = dt * second
    const = {k: float(cfg[k]) for k in ("a_leak", "a_in", "v_rest", "v_th", "v_reset")}
    group = NeuronGroup(
        int(cfg["n"]), "v : 1\nI : 1", threshold="v >= v_th", reset="v = v_reset", namespace=const, method="exact"
    )
    group.v = const["v_rest"]
    group.run_regularly("v = v + a_leak*(v_rest - v) + a_in*I\nI = 0", when="start")
    inputs = SpikeGeneratorGroup(int(cfg["n_in"]), cfg["in_idx"], cfg["in_step"] * dt * second)
    keep = []
    for name, source in (("inp", inputs), ("rec", group)):
        syn = Synapses(source, group, "w : 1", on_pre="I_post += w")
        syn.connect(i=cfg[f"{name}_pre"], j=cfg[f"{name}_post"])
        syn.w = cfg[f"{name}_w"]
        syn.delay = cfg[f"{name}_delay"] * dt * second
        keep.append(syn)
    mon = SpikeMonitor(group)
    Network(group, inputs, mon, *keep).run(int(cfg["steps"]) * dt * second)
    steps = np.round(np.asarray(mon.t / second) / dt).astype(np.int64)
    np.savez(dst, idx=np.asarray(mon.i, np.int64), step=steps)


if __name__ == "__main__":
    main(*sys.argv[1:4])
