"""Whole training steps of the SHD networks: snnlab against spikingjelly, norse and snnTorch.

One step = forward, loss, backward, Adam step, on a batch already in memory: a fresh batch every
step, made outside the timed window (as a data loader hands them over). Networks (time-major, T = 100, B = 256):

- ``mlp``: the SHD LIF MLP of ``experiments/shd_lif.yaml`` with 700 inputs (issue 19: 700 -> 256
  -> 256 -> 20): Linear (no bias) -> BatchNorm over T*B -> LIF (tau 10, threshold 1, hard reset
  to 0, detached reset, ATan alpha 5) -> sequence dropout 0.4, twice; Linear -> leaky-integrator
  readout (tau 10); cross-entropy on the time-averaged readout. Input: binary spikes, 5 % dense.
- ``delay``: the SHD delay network of ``experiments/shd_delays.yaml`` (140 -> 256 -> 256 -> 20,
  max delay 25, one Gaussian tap per synapse at sigma 12: the first epochs), BatchNorm, LIF (tau
  1.005, decay_input false), dropout 0.4, LI readout, the recipe's loss (CE of the summed
  per-step softmax). Peers have no delay layer: they run the DCLS package's ``Dcls1d`` (what the
  paper's official code uses) with their own neurons. Input: spike counts, 5 % of bins nonzero.

snnlab builds its network with ``create_model`` exactly as the recipe does (``mlp_snn``,
``delay_snn``); the peers build the same layers from torch (Linear, BatchNorm1d, the same
dropout) with their own neurons, as their users write them: spikingjelly ``LIFNode`` (multi-step,
torch backend; readout a ``LIFNode`` with an unreachable threshold, its membrane read from
``v_seq`` as the official delays code does), norse ``LIF``/``LI`` (multi-step modules), snnTorch
``Leaky`` in a loop over steps.

``snnlab-dense`` is snnlab with the spike-sparse Linear off (every GEMM dense), for the A/B.

Method (as ``bench_neurons.py``): every framework runs in its own fresh subprocess (snnlab's get
``OMP_WAIT_POLICY=PASSIVE``, what ``import snnlab`` sets, and, since 2026-12-04 night, the allocator
setting snnlab's trainers apply, ``snnlab.train.allocator``; peers get the environment as given),
model made once, 2 warm-up steps, then up to ``--reps`` steps timed (at most ``--budget``
seconds, at least 3 steps): median, p90 and max of the step, and the medians of its forward,
backward and optimizer parts. Each row also gives the measured share of nonzero inputs of every
synaptic layer (input, hidden, readout). With the recipes' initialisation the hidden layers are
nearly silent; ``--bn-bias 2`` shifts every BatchNorm (both sides alike) so that they fire
as in a trained network. Peak memory (RSS growth over one step) is measured in another fresh
subprocess with glibc mapping every large block (never on while timing). ``--procs N`` runs every
framework in N fresh processes, interleaved (snnlab, peer, snnlab, peer, ...): the step time of one
process varies by up to ~30 % between processes, so the summary pools every step of all processes
per framework (median, p90, the per-process medians) and gives the ratio of the pooled medians and
a pessimistic one (slowest snnlab process against the fastest peer process). ``--profile`` prints
torch.profiler's table of one snnlab step. Usage::

    python benchmarks/bench_train.py                        # both networks, every framework
    python benchmarks/bench_train.py --net mlp --frameworks snnlab,spikingjelly --reps 8
    python benchmarks/bench_train.py --net mlp --frameworks snnlab,spikingjelly --procs 3 --no-memory
    python benchmarks/bench_train.py --net mlp --profile    # where snnlab's step goes
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as TF
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_neurons import PeakRSS, _clear_pool, _mmap_large_blocks  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
T, B, CLASSES, HIDDEN, MAX_DELAY = 100, 256, 20, 256, 25
NETS = {"mlp": (700, 10.0, True), "delay": (140, 1.005, False)}  # inputs, tau, decay_input


# ------------------------------------------------------------------ peers' neurons ((T, B, N) -> (T, B, N))
def _sj(tau: float, decay_input: bool, readout: bool) -> nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    node = neuron.LIFNode(
        tau=tau,
        decay_input=decay_input,
        v_threshold=1e9 if readout else 1.0,
        v_reset=0.0,
        detach_reset=True,
        surrogate_function=surrogate.ATan(alpha=5.0),
        step_mode="m",  # the default torch backend
        store_v_seq=readout,
    )
    return _Run(lambda x: (node(x), node.v_seq)[1] if readout else node(x), node)


def _norse(tau: float, decay_input: bool, readout: bool) -> nn.Module:
    import norse.torch as nt

    inv = torch.tensor(1.0 / (tau * 1e-3))  # norse time constants in 1/s at dt = 1 ms
    if readout:
        li = nt.LI(nt.LIParameters(tau_mem_inv=inv))
        return _Run(lambda x: li(x)[0], li)
    lif = nt.LIF(nt.LIFParameters(tau_mem_inv=inv, v_th=torch.tensor(1.0), alpha=torch.tensor(5.0)))
    return _Run(lambda x: lif(x)[0], lif)


def _snntorch(tau: float, decay_input: bool, readout: bool) -> nn.Module:
    import snntorch
    from snntorch import surrogate

    beta = 1.0 - 1.0 / tau
    leaky = snntorch.Leaky(
        beta=beta,
        threshold=1e9 if readout else 1.0,
        reset_mechanism="none" if readout else "zero",
        spike_grad=surrogate.atan(alpha=5.0),
    )

    def run(x: torch.Tensor) -> torch.Tensor:
        mem, out = leaky.init_leaky(), []
        for t in range(x.shape[0]):
            spk, mem = leaky(x[t], mem)
            out.append(mem if readout else spk)
        return torch.stack(out)

    return _Run(run, leaky)


class _Run(nn.Module):
    """A peer's neuron run over a whole sequence from a fresh state (``reset`` between steps)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], inner: nn.Module) -> None:
        super().__init__()
        self.fn, self.inner = fn, inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if callable(getattr(self.inner, "reset", None)):
            self.inner.reset()
        return self.fn(x)


PEERS = {"spikingjelly": _sj, "norse": _norse, "snntorch": _snntorch}


# ------------------------------------------------------------------ the shared skeleton of the peers
class _SeqDropout(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # one mask for all steps
        return x * (torch.bernoulli(torch.full_like(x[0], 1 - self.p)) / (1 - self.p))


class _Synapse(nn.Module):
    """Linear (T*B folded) or a DCLS delay convolution, then BatchNorm over T*B: (T, B, I) -> (T', B, O)."""

    def __init__(self, n_in: int, n_out: int, delay: bool, norm: bool) -> None:
        super().__init__()
        if delay:
            from DCLS.construct.modules import Dcls1d

            self.fc = Dcls1d(n_in, n_out, kernel_count=1, dilated_kernel_size=MAX_DELAY, bias=False, version="gauss")
            self.fc.SIG.requires_grad_(False)
            self.fc.SIG.data.fill_(MAX_DELAY // 2)
        else:
            self.fc = nn.Linear(n_in, n_out, bias=False)
        self.delay, self.norm = delay, nn.BatchNorm1d(n_out) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay:
            h = self.fc(TF.pad(x.permute(1, 2, 0), (MAX_DELAY - 1, (MAX_DELAY - 1) // 2))).permute(2, 0, 1)
        else:
            h = self.fc(x)
        t, b = h.shape[:2]
        return h if self.norm is None else self.norm(h.reshape(t * b, -1)).reshape(t, b, -1)


def peer_model(peer: str, net: str) -> nn.Module:
    n_in, tau, decay_input = NETS[net]
    make = PEERS[peer]
    mods: list[nn.Module] = []
    for a, b in ((n_in, HIDDEN), (HIDDEN, HIDDEN)):
        mods += [_Synapse(a, b, net == "delay", True), make(tau, decay_input, False), _SeqDropout(0.4)]
    mods += [_Synapse(HIDDEN, CLASSES, net == "delay", False), make(tau, decay_input, True)]
    return nn.Sequential(*mods)


def snnlab_model(net: str, sparse: bool = True) -> nn.Module:
    """The recipe's model; ``sparse=False`` (framework ``snnlab-dense``): every SpikeLinear takes the dense GEMM."""
    from snnlab.models import create_model
    from snnlab.nn import SpikeLinear

    n_in, tau, decay_input = NETS[net]
    common = dict(in_features=n_in, num_classes=CLASSES, hidden=[HIDDEN, HIDDEN], tau=tau, decay_input=decay_input)
    common |= dict(surrogate="atan", surrogate_alpha=5.0, detach_reset=True, batch_norm=True, dropout=0.4, bias=False)
    if net == "delay":
        return create_model("delay_snn", max_delay=MAX_DELAY, readout_tau=tau, **common)
    model = create_model("mlp_snn", readout="li", readout_tau=tau, **common)
    for m in model.modules():
        if isinstance(m, SpikeLinear) and not sparse:
            m.max_density = 0.0
    return model


def loss_of(net: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The recipes' losses: CE of the mean readout (mlp), CE of the summed per-step softmax (delay)."""
    scores = out.mean(0) if net == "mlp" else TF.softmax(out, -1).sum(0)
    return TF.cross_entropy(scores, y)


def batch(net: str, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A fresh batch: binary spikes (mlp) or small counts (delay), 5 % of bins nonzero; labels."""
    x = (torch.rand(T, B, NETS[net][0], generator=g) < 0.05).float()
    if net == "delay":
        x = x * torch.randint(1, 4, x.shape, generator=g)
    return x, torch.randint(0, CLASSES, (B,), generator=g)


def set_activity(model: nn.Module, net: str, bn_bias: Optional[float]) -> None:
    """MLP only: every BatchNorm's bias to ``bn_bias``, so the hidden layers fire as in a trained network.

    At the recipe's initialisation the MLP's hidden layers are silent (tau 10, threshold 1, BN to
    zero mean); ``bn_bias = 2`` makes ~8 % of their outputs nonzero after dropout. The delay
    network (tau ~1) fires ~9 % at initialisation and is left as it is.
    """
    if bn_bias is not None and net == "mlp":
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                nn.init.constant_(m.bias, bn_bias)


def input_densities(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Share of nonzero inputs of every synaptic layer (Linear, delay layer) in one forward."""
    seen: list[float] = []

    def hook(mod: nn.Module, args: tuple) -> None:
        seen.append(round(float((args[0] != 0).float().mean()), 4))

    kinds = tuple(k for k in (nn.Linear, _dcls_type(), _delayed_type()) if k is not None)
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return seen


def _dcls_type() -> Optional[type]:
    mod = sys.modules.get("DCLS.construct.modules")
    return getattr(mod, "Dcls1d", None)


def _delayed_type() -> Optional[type]:
    mod = sys.modules.get("snnlab.nn.delay")
    return getattr(mod, "DelayedLinear", None)


# ------------------------------------------------------------------ one framework, in its own process
def _step(model: nn.Module, opt: torch.optim.Optimizer, net: str, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """One training step: wall seconds of forward, backward, optimizer, total; CPU and system seconds."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    loss = loss_of(net, model(x), y)
    t1 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    if hasattr(model, "after_optimizer_step"):
        model.after_optimizer_step()
    t3, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    sys_s = r1.ru_stime - r0.ru_stime
    return [t1 - t0, t2 - t1, t3 - t2, t3 - t0, r1.ru_utime - r0.ru_utime + sys_s, sys_s]


def worker(framework: str, net: str, reps: int, budget_s: float = 60.0, bn_bias: Optional[float] = None) -> dict:
    """Time (``reps`` > 0) or measure the memory of (``reps == 0``) one framework's step.

    Every step gets a fresh batch (made outside the timed window); timing stops after ``reps``
    steps or ``budget_s`` seconds, whichever comes first (at least 3 steps).
    """
    if reps == 0:
        _mmap_large_blocks()
    elif framework.startswith("snnlab"):
        from snnlab.train.allocator import keep_freed_memory

        keep_freed_memory()  # what snnlab's Trainer sets when it starts (peers: glibc's defaults)
    torch.manual_seed(0)
    model = (
        snnlab_model(net, sparse=framework == "snnlab")
        if framework.startswith("snnlab")
        else peer_model(framework, net)
    )
    set_activity(model, net, bn_bias)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    g = torch.Generator().manual_seed(1)
    for _ in range(2):  # warm-up: compilation, caches, the optimizer's state
        _step(model, opt, net, *batch(net, g))
    if reps == 0:
        x, y = batch(net, g)
        _clear_pool()
        with PeakRSS() as peak:
            _step(model, opt, net, x, y)
        return {"peak_mb": peak.mb}
    parts: list[list[float]] = []
    calib = [calibrate()]
    start = time.perf_counter()
    while len(parts) < reps and (len(parts) < 3 or time.perf_counter() - start < budget_s):
        parts.append(_step(model, opt, net, *batch(net, g)))
    calib.append(calibrate())
    steps = sorted(p[3] for p in parts)
    names = ("fwd_s", "bwd_s", "opt_s", "step_s", "cpu_s", "sys_s")
    return {k: statistics.median(p[j] for p in parts) for j, k in enumerate(names)} | {
        "sys_max_s": max(p[5] for p in parts),
        "p90_s": steps[min(len(steps) - 1, round(0.9 * (len(steps) - 1)))],
        "max_s": steps[-1],
        "steps": len(steps),
        "densities": input_densities(model, batch(net, g)[0]),
        "threads": torch.get_num_threads(),
        "calib_ms": [round(c, 2) for c in calib],  # before and after the timed steps
        "step_list_s": [p[3] for p in parts],  # every timed step, in order (pooled over processes by summarize)
        "cpu_list_s": [p[4] for p in parts],
    }


def calibrate(n: int = 300_000) -> float:
    """ms of a fixed pure-Python integer loop (median of 5): the speed of the core the process runs on.

    Neither memory nor threads matter to it, so a process whose steps are slower *and* whose
    calibration is slower ran on a slower (shared) core, not into a slower code path.
    """
    times = []
    for _ in range(5):
        t0, acc = time.perf_counter(), 0
        for i in range(n):
            acc += i & 7
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run_isolated(framework: str, net: str, reps: int, budget_s: float, bn_bias: Optional[float]) -> dict:
    """:func:`worker` in a fresh process: one framework's settings and thread pools touch no other."""
    cmd = [sys.executable, __file__, "--worker", json.dumps([framework, net, reps, budget_s, bn_bias])]
    env = dict(os.environ)
    if framework.startswith("snnlab"):  # what `import snnlab` sets, here imported after torch
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def profile(net: str, bn_bias: Optional[float]) -> None:
    """torch.profiler table of one snnlab step (after the warm-up), fresh batches."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    torch.manual_seed(0)
    model = snnlab_model(net).train()
    set_activity(model, net, bn_bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    g = torch.Generator().manual_seed(1)
    for _ in range(2):
        _step(model, opt, net, *batch(net, g))
    x, y = batch(net, g)
    print("input densities of the synaptic layers:", input_densities(model, x))
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        parts = _step(model, opt, net, x, y)
    print("step parts (fwd, bwd, opt, total, CPU, system) s:", [round(v, 4) for v in parts])
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    print(profile_groups(prof.key_averages(), parts))


# the profile's groups: torch ops ("aten::...") by exact name, snnlab's autograd Functions by prefix
# (forward and backward); Adam is the optimizer step's wall time; the rest is "Python and other ops"
GROUPS = (
    ("GEMM (aten::mm/addmm: input gradients, dense layers)", ("aten::mm", "aten::addmm", "aten::bmm")),
    ("spike-sparse Linear (CSR, gather, weight and readout input gradients)", ("SpikeLinearFunction",)),
    ("fused BatchNorm -> LIF -> dropout (batch_norm.neuron)", ("BatchNormNeuronFunction",)),
    ("BatchNorm", ("BatchNormRowsFunction", "aten::native_batch_norm", "aten::native_batch_norm_backward")),
    ("fused neuron kernels (LIF, LI)", ("FusedNeuronFunction",)),
    ("dropout masks", ("MaskMul", "aten::mul", "aten::bernoulli_")),
    ("delay layers", ("SpectralDelayConv", "TapsConv", "aten::convolution", "aten::convolution_backward")),
)


def profile_groups(events, parts: list[float]) -> str:
    """Self CPU time of the profiled step's ops by :data:`GROUPS`, Adam, and the rest of the step (ms)."""
    totals = dict.fromkeys([name for name, _ in GROUPS], 0.0)
    for ev in events:
        for name, keys in GROUPS:
            if any(ev.key == k or (not k.startswith("aten::") and ev.key.startswith(k)) for k in keys):
                totals[name] += ev.self_cpu_time_total / 1e3
                break
    totals["optimizer (Adam step, wall)"] = parts[2] * 1e3
    totals["Python and other ops"] = parts[3] * 1e3 - sum(totals.values())
    lines = [f"  {name:<58} {ms:7.1f} ms" for name, ms in totals.items()]
    return "\n".join(["where the step goes (self CPU time of the ops, ms):", *lines])


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", default="mlp,delay", help="comma-separated: mlp, delay")
    ap.add_argument("--frameworks", default="snnlab,spikingjelly,norse,snntorch")
    ap.add_argument("--reps", type=int, default=12, help="timed steps at most (after 2 warm-up steps)")
    ap.add_argument(
        "--budget", type=float, default=30.0, help="seconds of timed steps per framework (at least 3 steps)"
    )
    ap.add_argument(
        "--bn-bias",
        type=float,
        default=None,
        help="mlp: set every BatchNorm bias (both sides) so that hidden layers fire as when trained (2.0: ~8 %% nonzero)",
    )
    ap.add_argument(
        "--procs",
        type=int,
        default=1,
        help="fresh processes per framework, interleaved (a, b, a, b, ...); the summary pools their steps",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes (one per framework)")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's table of one snnlab step")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))), flush=True)
        return
    nets = [n for n in args.net.split(",") if n]
    if args.profile:
        for net in nets:
            profile(net, args.bn_bias)
        return
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {load()}", flush=True)
    summaries = {}
    for net in nets:
        fws = [f for f in args.frameworks.split(",") if f]
        for proc in range(args.procs):  # interleaved: every framework once per round, in the given order
            for fw in fws:
                res = run_isolated(fw, net, args.reps, args.budget, args.bn_bias)
                if "error" not in res and not args.no_memory and proc == 0:
                    res |= run_isolated(fw, net, 0, args.budget, args.bn_bias)
                rows.append({"net": net, "framework": fw, "proc": proc, "load": load(), **res})
                print(_fmt(rows[-1]), flush=True)
        summaries[net] = summarize([r for r in rows if r["net"] == net])
        print(format_summary(net, summaries[net]), flush=True)
    out = args.out or RESULTS / f"train-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="minutes"), "cpus": os.cpu_count()}
    meta |= {"bn_bias": args.bn_bias, "procs": args.procs, "threads": torch.get_num_threads()}
    out.write_text(json.dumps(meta | {"summary": summaries, "rows": rows}, indent=1))
    print(f"wrote {out}")


def _fmt(r: dict) -> str:
    head = f"{r['net']:<6} {r['framework']:<13}"
    if "error" in r:
        return f"{head} error: {r['error']}"
    ms = {k: r[k] * 1e3 for k in ("fwd_s", "bwd_s", "opt_s", "step_s", "p90_s", "max_s", "cpu_s", "sys_s", "sys_max_s")}
    mem = f"  peak {r['peak_mb']:5.0f} MB" if "peak_mb" in r else ""
    return (
        f"{head} step p50 {ms['step_s']:7.1f} p90 {ms['p90_s']:7.1f} max {ms['max_s']:7.1f} ms ({r['steps']} steps; "
        f"fwd {ms['fwd_s']:6.1f}, bwd {ms['bwd_s']:6.1f}, opt {ms['opt_s']:4.1f}; CPU {ms['cpu_s']:6.1f}, "
        f"system p50 {ms['sys_s']:5.1f} max {ms['sys_max_s']:5.1f}; calib {'/'.join(map(str, r.get('calib_ms', [])))}){mem}  "
        f"densities {r['densities']}  load {r['load']}"
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(rows: list[dict]) -> dict:
    """Pool one network's rows per framework and compare snnlab with its fastest peer.

    Per framework: ``p50_ms`` / ``p90_ms`` / ``cpu_p50_ms`` over every timed step of all its
    processes (pooled), ``proc_p50_ms``, the median of each process (their spread),
    ``proc_cpu_per_wall``, each process's CPU time over wall time (about the threads it kept busy: near
    1 with 2 threads means another job held a core) and ``proc_calib_ms``, each process's
    :func:`calibrate` (the faster of before and after: the speed of its core). Ratios
    (peer time / snnlab time, > 1: snnlab faster): ``pooled`` from the pooled medians against the
    peer with the lowest pooled median, ``p90`` likewise, and ``pessimistic`` = the fastest process
    of any peer against the slowest snnlab process. Rows with an error are left out.
    """
    sides: dict[str, dict] = {}
    for r in rows:
        if "step_list_s" not in r:
            continue
        keys = ("steps", "cpu", "proc_p50_ms", "proc_cpu_per_wall", "proc_calib_ms")
        side = sides.setdefault(r["framework"], {k: [] for k in keys})
        side["steps"] += [s * 1e3 for s in r["step_list_s"]]
        side["cpu"] += [c * 1e3 for c in r["cpu_list_s"]]
        side["proc_p50_ms"].append(_median(r["step_list_s"]) * 1e3)
        side["proc_cpu_per_wall"].append(_median(r["cpu_list_s"]) / _median(r["step_list_s"]))
        side["proc_calib_ms"].append(min(r.get("calib_ms") or [float("nan")]))  # the less disturbed of the two
    out: dict = {"frameworks": {}}
    for fw, side in sides.items():
        steps = sorted(side["steps"])
        out["frameworks"][fw] = {
            "procs": len(side["proc_p50_ms"]),
            "steps": len(steps),
            "p50_ms": _median(steps),
            "p90_ms": steps[min(len(steps) - 1, round(0.9 * (len(steps) - 1)))],
            "cpu_p50_ms": _median(side["cpu"]),
            "proc_p50_ms": side["proc_p50_ms"],
            "proc_cpu_per_wall": side["proc_cpu_per_wall"],
            "proc_calib_ms": side["proc_calib_ms"],
        }
    ours = out["frameworks"].get("snnlab")
    peers = {fw: s for fw, s in out["frameworks"].items() if not fw.startswith("snnlab")}
    if ours and peers:
        best = min(peers, key=lambda fw: peers[fw]["p50_ms"])
        fastest_proc = min(p for s in peers.values() for p in s["proc_p50_ms"])
        out["peer"] = best
        out["pooled"] = peers[best]["p50_ms"] / ours["p50_ms"]
        out["p90"] = peers[best]["p90_ms"] / ours["p90_ms"]
        out["pessimistic"] = fastest_proc / max(ours["proc_p50_ms"])
    return out


def format_summary(net: str, summary: dict) -> str:
    """The pooled table of :func:`summarize` and its ratios, as printed after a network's rows."""
    lines = [f"{net}: pooled over processes (median of all steps; per-process medians in brackets)"]
    for fw, s in summary["frameworks"].items():
        procs = ", ".join(f"{p:.1f}" for p in s["proc_p50_ms"])
        calib = ", ".join(f"{c:.1f}" for c in s["proc_calib_ms"])
        par = ", ".join(f"{c:.2f}" for c in s["proc_cpu_per_wall"])
        lines.append(
            f"  {fw:<13} p50 {s['p50_ms']:7.1f} p90 {s['p90_ms']:7.1f} ms, CPU {s['cpu_p50_ms']:7.1f} ms "
            f"({s['steps']} steps, {s['procs']} processes: [{procs}]; CPU/wall [{par}]; calibration ms [{calib}])"
        )
    if "pooled" in summary:
        lines.append(
            f"{net}: snnlab {summary['pooled']:.2f}x the fastest peer ({summary['peer']}) at the pooled median, "
            f"{summary['p90']:.2f}x at p90; pessimistic {summary['pessimistic']:.2f}x "
            "(slowest snnlab process against the fastest peer process)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
