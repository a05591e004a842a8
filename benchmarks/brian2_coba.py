"""The COBA network of snnlab.sim.vogels_abbott_coba in brian2, read from and written to ``.npz``.

Usage (with the brian2 venv): python brian2_coba.py IN.npz OUT.npz [numpy|cython]

The oracle for snnlab's conductance receptors (tests/sim/test_sim_peers.py). IN holds
``steps``, ``dt`` (s), ``n``, ``n_exc``, the initial membrane ``v0`` (V) and the synapse lists
``{exc,inh}_{pre,post}``. brian2 integrates brian2's own COBA equations with ``method="euler"``
(the example as users write it); on_pre adds 0.6 / 6.7 to ge / gi with no delay, which is a
delay of one step in snnlab. OUT holds every spike as (``idx``, ``step``) and the membrane
trace ``v`` (steps, n) after each step.
"""

import sys

import numpy as np
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, defaultclock, ms, mV, prefs, second, volt

EQS = """dv/dt = (ge*(Ee-v)+gi*(Ei-v)-(v-El)+I)/taum : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1"""


def main(src: str, dst: str, target: str = "numpy") -> None:
    cfg = np.load(src)
    prefs.codegen.target = target
    dt = float(cfg["dt"])
    defaultclock.dt = dt * second
    ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, vt=-50 * mV, vr=-60 * mV, El=-60 * mV, Ee=0 * mV)
    ns.update(Ei=-80 * mV, I=20 * mV)
    group = NeuronGroup(
        int(cfg["n"]), EQS, threshold="v>vt", reset="v = vr", refractory=5 * ms, method="euler", namespace=ns
    )
    group.v = cfg["v0"] * volt
    keep = []
    for name, on_pre in (("exc", "ge += 0.6"), ("inh", "gi += 6.7")):
        syn = Synapses(group, group, on_pre=on_pre)
        syn.connect(i=cfg[f"{name}_pre"], j=cfg[f"{name}_post"])
        keep.append(syn)
    mon, trace = SpikeMonitor(group), StateMonitor(group, "v", record=True)
    Network(group, mon, trace, *keep).run(int(cfg["steps"]) * dt * second)
    steps = np.round(np.asarray(mon.t / second) / dt).astype(np.int64)
    np.savez(dst, idx=np.asarray(mon.i, np.int64), step=steps, v=np.asarray(trace.v / volt).T)


if __name__ == "__main__":
    main(*sys.argv[1:4])
