"""Time a training step of a reduced maxformer_cifar: snnlab's neurons against the same network on
spikingjelly's multi-step LIFNode (torch backend), and their peak memory.

The network is built once by ``snnlab.models.create_model``; the peer variant is
``snnlab.nn.peers.spikingjelly_twin`` of it (the helper the oracle test uses): a deep copy in which
every ``snnlab.nn.LIF`` is ``spikingjelly.activation_based.neuron.LIFNode`` with the same tau,
threshold, reset, detach_reset and sigmoid surrogate (step_mode "m", torch backend) and snnlab's
``SpikeConv2d`` / ``BatchNorm2d`` are torch's ``nn.Conv2d`` / ``nn.BatchNorm2d`` with the same weights
(the dense network a spikingjelly user builds); the other layers (3x3 convolutions, attention,
pooling, AdamW) are the same torch code on both sides. The peer runs twice: "spikingjelly" on snnlab's
channels-last activations (``MaxFormer(channels_last=True)``: channels innermost in memory, oneDNN's
faster path for convolutions, batch norm and pooling: snnlab's layout, handed to the peer) and
"spikingjelly-nchw" on contiguous ``(T, B, C, H, W)`` activations, the layout of the official Max-Former
code and of spikingjelly's examples (the peer as its users run it). A step is forward +
cross-entropy on the mean over T + backward + AdamW; spikingjelly's state is reset after each
step as its users do (``functional.reset_net``). Fresh random input per step, a warm-up, then the
median of ``--steps`` steps, in wall time and in CPU time of this process (CPU time is the steadier
figure on a loaded machine). Timing runs the three variants in one process, in turn step by step,
so that all see the same machine load (the shared machines this was measured on are busy);
``--block K`` alternates in turns of K steps and times all but the first step of each turn (the step
right after the other variant's runs on the other's allocator and cache state; a user runs one).
snnlab's variant applies ``snnlab.train.allocator.keep_freed_memory`` as snnlab's Trainer does (glibc
keeps freed heap memory between steps instead of faulting it in again); in one process every variant
shares it, with ``--processes`` the peers run on glibc's defaults unless ``--peer-allocator``.
``--processes R`` times as users run a network, one per process: R rounds, each starting a fresh
process per variant in turn, which warms up and times ``--steps`` steps alone (the median is over
all rounds' steps; the rounds spread the machine's load drift over the variants).
Memory is measured in one subprocess per variant: on CPU the peak resident set of the training
steps (peak RSS, ``VmHWM``, after 1 + 2 steps minus the resident set once the model and optimizer are
built, before the first step: activations, gradients, optimizer state and allocator caches); on
CUDA ``torch.cuda.max_memory_allocated`` over the same steps.

    python benchmarks/bench_maxformer.py [--steps 10] [--block K | --processes R] [--device cpu|cuda] [--json out.json]
    python benchmarks/bench_maxformer.py --profile [snnlab|spikingjelly|spikingjelly-nchw]   # where a step goes, by layer kind

``--profile`` runs one step under torch.profiler after a warm-up and prints, per kind of layer (3x3
convolutions, depth-wise, 1x1, batch norm, LIF, batch norm -> LIF fused, max-pool, attention products,
head), the wall time of
its forward calls and of the backward nodes that autograd recorded for them (matched by sequence
number), the AdamW step, and the rest of the step (views, copies, additions, loss).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

CFG = dict(dims=[32, 64, 128], depths=[1, 1, 2], heads=[8, 8, 8], T=4, img_size=32, num_classes=10)
# snnlab; the peer on snnlab's channels-last activations; the peer on contiguous activations (its users' layout)
VARIANTS = ("snnlab", "spikingjelly", "spikingjelly-nchw")


def _peak_rss_mb() -> float:
    """Peak resident set of this process image (VmHWM). Not ``ru_maxrss``: Linux carries that over
    from the parent across fork + exec, so a child started by a large parent reports the parent's size."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - non-Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


# Whether the peers' processes get snnlab's allocator setting too (``--peer-allocator``); snnlab's always
# does, as its Trainer sets it (snnlab.train.allocator). In one process (no ``--processes``) it is shared.
PEER_ALLOCATOR = False


def make_step(variant: str, batch: int, device: str, with_model: bool = False):
    """A closure running one training step of ``variant``, and its parameter count (and the model)."""
    from spikingjelly.activation_based import functional

    from snnlab.models import create_model
    from snnlab.nn.peers import spikingjelly_twin
    from snnlab.train.allocator import keep_freed_memory

    if variant == "snnlab" or PEER_ALLOCATOR:
        keep_freed_memory()  # what snnlab's Trainer does when it starts

    torch.manual_seed(0)
    model = create_model("maxformer_cifar", **CFG)
    if variant.startswith("spikingjelly"):
        model = spikingjelly_twin(model)
    if variant == "spikingjelly-nchw":
        model.channels_last = False  # the (T, B, C, H, W) contiguous layout of the official code
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        x = torch.randn(batch, 3, 32, 32, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        loss = torch.nn.functional.cross_entropy(model(x).mean(0), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if variant.startswith("spikingjelly"):
            functional.reset_net(model)
        if device == "cuda":
            torch.cuda.synchronize()

    params = sum(p.numel() for p in model.parameters())
    return (step, params, model) if with_model else (step, params)


def time_both(
    steps: int,
    warmup: int,
    batch: int,
    device: str,
    block: int = 1,
    variants: tuple[str, ...] = ("snnlab", "spikingjelly"),
) -> dict:
    """Median wall and CPU time per step of the variants, measured in turns in this process: ``block``
    steps of one variant, then of the next; with ``block > 1`` the first step of each turn (the one after
    another variant's step, with its allocator and cache state) is not timed."""
    runs = {v: make_step(v, batch, device) for v in variants}
    wall: dict[str, list[float]] = {v: [] for v in runs}
    cpu: dict[str, list[float]] = {v: [] for v in runs}
    for _ in range(warmup):
        for step, _ in runs.values():
            step()
    while min(len(w) for w in wall.values()) < steps:
        for variant, (step, _) in runs.items():
            for j in range(block):
                t0, c0 = time.perf_counter(), time.process_time()
                step()
                if (block == 1 or j > 0) and len(wall[variant]) < steps:
                    wall[variant].append(time.perf_counter() - t0)
                    cpu[variant].append(time.process_time() - c0)
    return {
        v: {
            "median_s": statistics.median(wall[v]),
            "times_s": wall[v],
            "median_cpu_s": statistics.median(cpu[v]),
            "params": runs[v][1],
        }
        for v in runs
    }


def time_alone(variant: str, steps: int, warmup: int, batch: int, device: str) -> dict:
    """Wall and CPU time of ``steps`` training steps of one variant, alone in this process after
    ``warmup`` steps: the way its users run it (one network per process)."""
    step, params = make_step(variant, batch, device)
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"variant": variant, "times_s": wall, "cpu_s": cpu, "params": params}


def time_in_processes(
    rounds: int, steps: int, warmup: int, batch: int, device: str, variants: tuple[str, ...], runner=None
) -> dict:
    """Median wall and CPU time per step, each variant alone in a fresh process (``time_alone``):
    ``rounds`` rounds, each starting one process per variant in turn (so slow drifts of the machine's
    load reach every variant), ``steps`` timed steps per process after ``warmup``."""
    runner = runner or _child_timing
    wall: dict[str, list[float]] = {v: [] for v in variants}
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    params: dict[str, int] = {}
    per_round: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            out = runner(variant, steps, warmup, batch, device)
            wall[variant] += out["times_s"]
            cpu[variant] += out["cpu_s"]
            per_round[variant].append(statistics.median(out["times_s"]))
            params[variant] = out["params"]
    return {
        v: {
            "median_s": statistics.median(wall[v]),
            "times_s": wall[v],
            "median_cpu_s": statistics.median(cpu[v]),
            "round_medians_s": per_round[v],
            "params": params[v],
        }
        for v in variants
    }


def _child(variant: str, batch: int, device: str, *extra: str) -> dict:
    """Run this script for one ``variant`` in a fresh process; its last stdout line, parsed (JSON)."""
    cmd = [sys.executable, __file__, "--variant", variant, "--batch", str(batch), "--device", device, *extra]
    cmd += ["--peer-allocator"] if PEER_ALLOCATOR else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def _child_timing(variant: str, steps: int, warmup: int, batch: int, device: str) -> dict:
    return _child(variant, batch, device, "--alone", str(steps), "--warmup", str(warmup))


def run_variant(variant: str, steps: int, warmup: int, batch: int, device: str) -> dict:
    """Peak memory of ``steps`` training steps of one variant in this process."""
    step, params = make_step(variant, batch, device)
    base = _rss_mb()  # model, optimizer and imports; the steps' memory is measured from here
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup + steps):
        step()
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mb() - base
    return {"variant": variant, "peak_mb": peak, "params": params}


def layer_group(m: torch.nn.Module) -> str | None:
    """The profile group of a leaf layer, or None for containers and the rest."""
    from snnlab.nn.maxformer import MatMul

    if isinstance(m, torch.nn.Conv2d):
        if m.groups > 1 and m.groups == m.in_channels:
            return "depth-wise conv"
        return f"{m.kernel_size[0]}x{m.kernel_size[1]} conv"
    kinds = {
        torch.nn.BatchNorm2d: "batch norm",
        torch.nn.MaxPool2d: "max-pool",
        MatMul: "attention products",
        torch.nn.Linear: "head (linear)",
    }
    for cls, name in kinds.items():
        if isinstance(m, cls):
            return name
    return "LIF" if type(m).__name__ in ("LIF", "LIFNode") else None


def _scoped(fn, name: str):
    """``fn`` run inside a profiler scope named ``name``."""

    def run(*args, **kwargs):
        with torch.profiler.record_function(name):
            return fn(*args, **kwargs)

    return run


def group_times(events, step_s: float) -> dict[str, list[float]]:
    """``{group: [forward ms, backward ms]}`` from the profiled events of one step (see the docstring)."""
    times: dict[str, list[float]] = {}
    seq_group: dict[int, str] = {}
    for ev in events:
        if ev.name.startswith("group:"):
            name = ev.name[6:]
            times.setdefault(name, [0.0, 0.0])[0] += ev.cpu_time_total / 1e3
            stack = list(ev.cpu_children)
            while stack:
                child = stack.pop()
                stack.extend(child.cpu_children)
                if child.sequence_nr >= 0:
                    seq_group.setdefault(child.sequence_nr, name)
    for ev in events:
        if ev.name.startswith("autograd::engine::evaluate_function:") and ev.sequence_nr in seq_group:
            times[seq_group[ev.sequence_nr]][1] += ev.cpu_time_total / 1e3
        elif ev.name.startswith("Optimizer.step#"):
            times["AdamW"] = [ev.cpu_time_total / 1e3, 0.0]
    times["rest (views, copies, additions, loss)"] = [step_s * 1e3 - sum(map(sum, times.values())), 0.0]
    return times


def profile(variant: str, batch: int) -> None:
    """Print where one training step of ``variant`` goes, by layer kind (after 3 warm-up steps)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    import snnlab.nn.maxformer as layers

    step, _, model = make_step(variant, batch, "cpu", with_model=True)
    for m in model.modules():
        if (name := layer_group(m)) is not None:
            m.forward = _scoped(m.forward, "group:" + name)
    fused = layers.batch_norm_neuron
    layers.batch_norm_neuron = _scoped(fused, "group:batch norm -> LIF (fused)")
    for _ in range(3):
        step()
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"{variant}: one profiled step {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms CPU, {torch.get_num_threads()} threads"
    )
    print(f"{'group':<40}{'forward':>10}{'backward':>10}{'total':>10}")
    times = group_times(prof.events(), wall)
    for name, (fwd, bwd) in sorted(times.items(), key=lambda kv: -sum(kv[1])):
        print(f"{name:<40}{fwd:>7.1f} ms{bwd:>7.1f} ms{fwd + bwd:>7.1f} ms")
    layers.batch_norm_neuron = fused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--block", type=int, default=1, help="steps per variant per turn (1: alternate every step)")
    ap.add_argument("--profile", nargs="?", const="snnlab", default=None, choices=list(VARIANTS))
    ap.add_argument(
        "--processes",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="time each variant alone in its own process (as its users run it), ROUNDS rounds of one process "
        "per variant, --steps timed steps each after --warmup; 0 (default): all variants in this process, in turns",
    )
    ap.add_argument(
        "--peer-allocator",
        action="store_true",
        help="give the peers' processes snnlab's allocator setting too (snnlab.train.allocator; "
        "default: glibc's defaults, as the peer's users run it)",
    )
    ap.add_argument("--variant", default=None, help=argparse.SUPPRESS)  # child process
    ap.add_argument("--alone", type=int, default=0, help=argparse.SUPPRESS)  # child: time this many steps
    args = ap.parse_args()
    global PEER_ALLOCATOR
    PEER_ALLOCATOR = args.peer_allocator
    if args.profile:
        profile(args.profile, args.batch)
        return
    if args.variant and args.alone:
        print(json.dumps(time_alone(args.variant, args.alone, args.warmup, args.batch, args.device)))
        return
    if args.variant:
        print(json.dumps(run_variant(args.variant, 2, 1, args.batch, args.device)))
        return
    load_before = os.getloadavg()[0]
    if args.processes > 0:
        timing = time_in_processes(args.processes, args.steps, args.warmup, args.batch, args.device, VARIANTS)
        mode = f"each variant alone in its own process, {args.processes} rounds of {args.steps} timed steps"
        mode += (
            "; the peers with snnlab's allocator setting" if args.peer_allocator else "; the peers on glibc's defaults"
        )
    else:
        timing = time_both(args.steps, args.warmup, args.batch, args.device, max(1, args.block), VARIANTS)
        mode = (
            "in one process, alternating every step"
            if args.block <= 1
            else f"in one process, turns of {args.block} steps, the first of each not timed"
        ) + " (the allocator setting is the process's: shared by all variants)"
    rows = []
    for variant in VARIANTS:  # peak memory, one fresh process each
        rows.append({**_child(variant, args.batch, args.device), **timing[variant]})
    ours = rows[0]
    print(
        f"maxformer_cifar {CFG['dims']} depths {CFG['depths']}, T {CFG['T']}, B {args.batch}, 32 px, "
        f"{ours['params']:,} parameters, {args.device}, training step (forward, backward, AdamW)"
    )
    print(f"{'variant':<19}{'median step':>14}{'CPU time':>14}{'peak memory':>14}{'speed-up':>10}{'memory':>8}")
    for r in rows:
        print(
            f"{r['variant']:<19}{r['median_s'] * 1e3:>11.1f} ms{r['median_cpu_s'] * 1e3:>11.1f} ms"
            f"{r['peak_mb']:>11.1f} MB{r['median_s'] / ours['median_s']:>9.2f}x"
            f"{ours['peak_mb'] / max(r['peak_mb'], 1e-9):>8.2f}"
        )
    load = (load_before, os.getloadavg()[0])
    print(
        "speed-up = the variant's step / snnlab's (wall; CPU time: "
        + ", ".join(f"{r['variant']} {r['median_cpu_s'] / ours['median_cpu_s']:.2f}x" for r in rows[1:])
        + "), memory = snnlab's peak / the variant's; "
        f"load average {load[0]:.1f} -> {load[1]:.1f}, {torch.get_num_threads()} torch threads, " + mode
    )
    print(
        "spikingjelly: the peer on snnlab's channels-last activations; "
        "spikingjelly-nchw: the peer on contiguous (T, B, C, H, W) activations, as the official code runs it"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "config": CFG,
                    "batch": args.batch,
                    "device": args.device,
                    "rows": rows,
                    "load_average": load,
                    "threads": torch.get_num_threads(),
                    "block": max(1, args.block),
                    "processes": args.processes,
                    "peer_allocator": args.peer_allocator,
                    "timing": mode,
                    "date": time.strftime("%Y-%m-%d %H:%M"),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
