"""Whole training steps of the SHD networks: snnlab against spikingjelly, norse and snnTorch.

One step = forward, loss, backward, Adam step, on a batch already in memory (a fresh batch of
the prepared ones each step). Networks (time-major, T = 100, B = 256):

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
``THP_MEM_ALLOC_ENABLE=1`` and ``OMP_WAIT_POLICY=PASSIVE``, what ``import snnlab`` sets; peers
get the environment as given), model made
once, 2 warm-up steps, then ``--reps`` steps timed, median; the forward, backward and optimizer
parts are timed too. Peak memory (RSS growth over one step) is measured in another fresh
subprocess with glibc mapping every large block (never on while timing). ``--profile`` prints
torch.profiler's table of one snnlab step. Usage::

    python benchmarks/bench_train.py                        # both networks, every framework
    python benchmarks/bench_train.py --net mlp --frameworks snnlab,spikingjelly --reps 5
    python benchmarks/bench_train.py --net mlp --profile    # where snnlab's step goes
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
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


def batches(net: str, n: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` prepared batches: binary spikes (mlp) or small counts (delay), 5 % of bins nonzero."""
    g = torch.Generator().manual_seed(0)
    n_in = NETS[net][0]
    out = []
    for _ in range(n):
        x = (torch.rand(T, B, n_in, generator=g) < 0.05).float()
        if net == "delay":
            x = x * torch.randint(1, 4, x.shape, generator=g)
        out.append((x, torch.randint(0, CLASSES, (B,), generator=g)))
    return out


# ------------------------------------------------------------------ one framework, in its own process
def _step(model: nn.Module, opt: torch.optim.Optimizer, net: str, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    t0 = time.perf_counter()
    loss = loss_of(net, model(x), y)
    t1 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    if hasattr(model, "after_optimizer_step"):
        model.after_optimizer_step()
    t3 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2, t3 - t0]


def worker(framework: str, net: str, reps: int) -> dict:
    """Time (``reps`` > 0) or measure the memory of (``reps == 0``) one framework's step."""
    if reps == 0:
        _mmap_large_blocks()
    torch.manual_seed(0)
    model = (
        snnlab_model(net, sparse=framework == "snnlab")
        if framework.startswith("snnlab")
        else peer_model(framework, net)
    )
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    data = batches(net)
    for i in range(2):  # warm-up: compilation, caches, the optimizer's state
        _step(model, opt, net, *data[i % len(data)])
    if reps == 0:
        _clear_pool()
        with PeakRSS() as peak:
            _step(model, opt, net, *data[0])
        return {"peak_mb": peak.mb}
    parts = [_step(model, opt, net, *data[i % len(data)]) for i in range(reps)]
    names = ("fwd_s", "bwd_s", "opt_s", "step_s")
    return {k: statistics.median(p[j] for p in parts) for j, k in enumerate(names)} | {
        "threads": torch.get_num_threads()
    }


def run_isolated(framework: str, net: str, reps: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", json.dumps([framework, net, reps])]
    env = dict(os.environ)
    if framework.startswith("snnlab"):  # what `import snnlab` sets, here imported after torch
        env.setdefault("THP_MEM_ALLOC_ENABLE", "1")
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def profile(net: str) -> None:
    """torch.profiler table of one snnlab step (after the warm-up)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    torch.manual_seed(0)
    model = snnlab_model(net).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    data = batches(net)
    for i in range(2):
        _step(model, opt, net, *data[i])
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        print("step parts (fwd, bwd, opt, total) s:", [round(v, 4) for v in _step(model, opt, net, *data[2])])
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main(argv: Optional[list[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", default="mlp,delay", help="comma-separated: mlp, delay")
    ap.add_argument("--frameworks", default="snnlab,spikingjelly,norse,snntorch")
    ap.add_argument("--reps", type=int, default=5, help="timed steps (after 2 warm-up steps), median")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
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
            profile(net)
        return
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {load()}", flush=True)
    for net in nets:
        for fw in [f for f in args.frameworks.split(",") if f]:
            res = run_isolated(fw, net, args.reps)
            if "error" not in res and not args.no_memory:
                res |= run_isolated(fw, net, 0)
            rows.append({"net": net, "framework": fw, "load": load(), **res})
            print(_fmt(rows[-1]), flush=True)
        _ratios([r for r in rows if r["net"] == net])
    out = args.out or RESULTS / f"train-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "rows": rows}, indent=1)
    )
    print(f"wrote {out}")


def _fmt(r: dict) -> str:
    head = f"{r['net']:<6} {r['framework']:<13}"
    if "error" in r:
        return f"{head} error: {r['error']}"
    ms = {k: r[k] * 1e3 for k in ("fwd_s", "bwd_s", "opt_s", "step_s")}
    mem = f"  peak {r['peak_mb']:6.0f} MB" if "peak_mb" in r else ""
    return (
        f"{head} step {ms['step_s']:8.1f} ms (fwd {ms['fwd_s']:7.1f}, bwd {ms['bwd_s']:7.1f}, "
        f"opt {ms['opt_s']:5.1f}){mem}  load {r['load']}"
    )


def _ratios(rows: list[dict]) -> None:
    ok = [r for r in rows if "step_s" in r]
    ours = [r for r in ok if r["framework"] == "snnlab"]
    peers = [r for r in ok if not r["framework"].startswith("snnlab")]
    if ours and peers:
        best = min(peers, key=lambda r: r["step_s"])
        ratio = best["step_s"] / ours[0]["step_s"]
        print(f"{rows[0]['net']}: snnlab {ratio:.2f}x the fastest peer ({best['framework']})", flush=True)


if __name__ == "__main__":
    main()
