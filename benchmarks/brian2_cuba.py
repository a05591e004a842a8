"""Vogels-Abbott CUBA / COBA in brian2 (run with the separate brian2 venv); prints JSON lines.

Usage:
    python brian2_cuba.py TARGET SECONDS [cuba|coba]   one run (TARGET: numpy | cython | cpp_standalone)
    python brian2_cuba.py serve SECONDS [cuba|coba]    cpp_standalone built once, then one run per
                                                       line read on stdin (for interleaved timing)

CUBA is brian2's CUBA example (current synapses, Euler); COBA the conductance-based benchmark
of Brette et al. (2007) as brian2's benchmark scripts write it (ge/gi decaying with 5/10 ms,
reversal potentials 0 and -80 mV, weights 0.6 and 6.7 in units of the leak conductance, a
constant drive of 20 mV, v initially normal(-55 mV, 5 mV)). snnlab.sim.vogels_abbott_cuba and
vogels_abbott_coba build the same models. Spikes are counted, not stored
(``SpikeMonitor(record=False)``). Runtime targets compile outside the timed part;
cpp_standalone reports its own measured simulation time (``device._last_run_time``, the
network run without building or setting up synapses).
"""

import json
import sys
import tempfile
import time

from brian2 import Network, NeuronGroup, SpikeMonitor, Synapses, defaultclock, device, ms, mV, prefs, set_device

CUBA = """dv/dt = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt"""
COBA = """dv/dt = (ge*(Ee-v)+gi*(Ei-v)-(v-El)+I)/taum : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1"""


def network(model: str) -> tuple:
    """The network, its two synapse sets and the spike counter."""
    defaultclock.dt = 0.1 * ms
    ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, vt=-50 * mV, vr=-60 * mV)
    if model == "cuba":
        ns.update(El=-49 * mV)
        on_pre = ("ge += 1.62*mV", "gi += -9*mV")
    else:
        ns.update(El=-60 * mV, Ee=0 * mV, Ei=-80 * mV, I=20 * mV)
        on_pre = ("ge += 0.6", "gi += 6.7")
    eqs = CUBA if model == "cuba" else COBA
    group = NeuronGroup(4000, eqs, threshold="v>vt", reset="v = vr", refractory=5 * ms, method="euler", namespace=ns)
    group.v = "vr + rand() * (vt - vr)" if model == "cuba" else "-55*mV + 5*mV*randn()"
    syn = [Synapses(group[:3200], group, on_pre=on_pre[0]), Synapses(group[3200:], group, on_pre=on_pre[1])]
    for s in syn:
        s.connect(p=0.02)
    mon = SpikeMonitor(group, record=False)
    return Network(group, *syn, mon), syn, mon


def report(target: str, seconds: float, wall: float, mon: object, syn: list) -> None:
    n_syn = sum(len(s) for s in syn)
    out = {"target": target, "seconds": seconds, "wall_s": wall, "spikes": int(mon.num_spikes), "synapses": n_syn}
    print(json.dumps(out), flush=True)


def main(target: str, seconds: float, model: str = "cuba") -> None:
    standalone = target in ("cpp_standalone", "serve")
    if standalone:
        set_device("cpp_standalone", build_on_run=False)
    else:
        prefs.codegen.target = target
    net, syn, mon = network(model)
    if standalone:
        net.run(seconds * 1000 * ms)
        folder = tempfile.mkdtemp()
        device.build(directory=folder, compile=True, run=target == "cpp_standalone")
        if target == "serve":
            print("ready", flush=True)
            for _ in sys.stdin:
                device.run(directory=folder, with_output=False)
                report(target, seconds, float(device._last_run_time), mon, syn)
            return
        wall = float(device._last_run_time)
    else:
        net.run(10 * ms)  # compile outside the timed part
        start = time.perf_counter()
        net.run(seconds * 1000 * ms)
        wall = time.perf_counter() - start
    report(target, seconds, wall, mon, syn)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), *(sys.argv[3:4]))
