"""Vogels-Abbott CUBA in brian2 (run with the separate brian2 venv); prints one JSON line.

Usage: python brian2_cuba.py TARGET SECONDS   (TARGET: numpy | cython | cpp_standalone)
Same model as snnlab.sim.vogels_abbott_cuba (brian2's CUBA example, Euler integration).
Spikes are counted, not stored (``SpikeMonitor(record=False)``), as snnlab's benchmark does.
Runtime targets compile outside the timed part; cpp_standalone is built first and its own
measured simulation time (``device._last_run_time``) is reported.
"""

import json
import sys
import tempfile
import time

from brian2 import NeuronGroup, SpikeMonitor, Synapses, defaultclock, device, ms, mV, prefs, run, set_device


def main(target: str, seconds: float) -> None:
    if target == "cpp_standalone":
        set_device("cpp_standalone", build_on_run=False)
    else:
        prefs.codegen.target = target
    defaultclock.dt = 0.1 * ms
    taum, taue, taui, vt, vr, el = 20 * ms, 5 * ms, 10 * ms, -50 * mV, -60 * mV, -49 * mV
    eqs = """dv/dt = (ge+gi-(v-El))/taum : volt (unless refractory)
             dge/dt = -ge/taue : volt
             dgi/dt = -gi/taui : volt"""
    ns = dict(taum=taum, taue=taue, taui=taui, El=el)
    group = NeuronGroup(
        4000, eqs, threshold="v>vt", reset="v = vr", refractory=5 * ms, method="euler", namespace=dict(ns, vt=vt, vr=vr)
    )
    group.v = "vr + rand() * (vt - vr)"
    ce = Synapses(group[:3200], group, on_pre="ge += 1.62*mV")
    ci = Synapses(group[3200:], group, on_pre="gi += -9*mV")
    ce.connect(p=0.02)
    ci.connect(p=0.02)
    mon = SpikeMonitor(group, record=False)
    if target == "cpp_standalone":
        run(seconds * 1000 * ms)
        device.build(directory=tempfile.mkdtemp(), compile=True, run=True)
        wall = float(device._last_run_time)
    else:
        run(10 * ms)  # compile outside the timed part
        start = time.perf_counter()
        run(seconds * 1000 * ms)
        wall = time.perf_counter() - start
    n_syn = len(ce) + len(ci)
    print(
        json.dumps(
            {"target": target, "seconds": seconds, "wall_s": wall, "spikes": int(mon.num_spikes), "synapses": n_syn}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
