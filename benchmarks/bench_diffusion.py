"""Time the spiking diffusion UNet (SDDPM, reduced Fashion-MNIST configuration) in one run.

Cases, all on the same weights and inputs:

- ``sample``: DDIM sampling, 50 steps, of ``--batch`` images; reported per image. snnlab with the
  fused neuron kernels (``backend="auto"``: numba on CPU) against the same model on the torch
  reference backend.
- ``train``: one training step (``NoiseSchedule.loss`` forward + backward + Adam) at batch
  ``--batch``: snnlab fused kernels, snnlab torch backend, and the same UNet whose IF neurons
  are spikingjelly's ``IFNode`` (multi-step, torch backend: the only one spikingjelly has on a
  CPU; threshold 1, hard reset, ATan), made once, warm, a fresh batch each step.

One warm-up call per case, then the median of ``--reps`` calls; cases interleave round by round,
so slow phases of a shared machine hit all of them alike. Usage::

    python benchmarks/bench_diffusion.py --reps 3       # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from snnlab import nn as snn
from snnlab.functional.diffusion import NoiseSchedule
from snnlab.inference.diffusion import ddim_sample
from snnlab.models import create_model

RESULTS = Path(__file__).resolve().parent / "results"
CONFIG = dict(in_channels=1, image_size=16, ch=16, ch_mult=[1, 2], num_res_blocks=1, T=4)  # fmnist_sddpm.yaml


class SpikingJellyIF(nn.Module):
    """spikingjelly's multi-step IFNode in the place of snnlab.nn.IF (state reset every call)."""

    def __init__(self) -> None:
        super().__init__()
        from spikingjelly.activation_based import neuron, surrogate

        self.node = neuron.IFNode(v_threshold=1.0, v_reset=0.0, surrogate_function=surrogate.ATan(), step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.node.reset()
        return self.node(x)


def with_spikingjelly(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every snnlab IF replaced by spikingjelly's IFNode."""
    peer = copy.deepcopy(model)
    for name, module in list(peer.named_modules()):
        if isinstance(module, snn.IF):
            parent_name, _, leaf = name.rpartition(".")
            setattr(peer.get_submodule(parent_name) if parent_name else peer, leaf, SpikingJellyIF())
    return peer


def with_backend(model: nn.Module, backend: str) -> nn.Module:
    out = copy.deepcopy(model)
    for m in out.modules():
        if isinstance(m, snn.IF):
            m.backend = backend
    return out


def _time(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sample_cases(model: nn.Module, batch: int, steps: int) -> dict[str, Callable[[], None]]:
    schedule = NoiseSchedule()
    nets = {"snnlab-fused": with_backend(model, "auto").eval(), "snnlab-torch": with_backend(model, "torch").eval()}

    def run(net: nn.Module) -> Callable[[], None]:
        return lambda: ddim_sample(net, schedule, torch.randn(batch, 1, 16, 16), steps=steps)

    return {f"sample/{k}": run(v) for k, v in nets.items()}


def train_cases(model: nn.Module, batch: int) -> dict[str, Callable[[], None]]:
    schedule = NoiseSchedule()
    nets = {
        "snnlab-fused": with_backend(model, "auto"),
        "snnlab-torch": with_backend(model, "torch"),
        "spikingjelly-IFNode": with_spikingjelly(model),
    }
    cases = {}
    for name, net in nets.items():
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)

        def step(net: nn.Module = net, opt: torch.optim.Optimizer = opt) -> None:
            loss = schedule.loss(net.train(), torch.rand(batch, 1, 16, 16) * 2 - 1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        cases[f"train/{name}"] = step
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model("sddpm_unet", **CONFIG)
    cases = {**sample_cases(model, args.batch, args.steps), **train_cases(model, args.batch)}
    for fn in cases.values():
        fn()  # warm-up (kernel compilation, allocator)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.reps):
        for name, fn in cases.items():
            times[name].append(_time(fn))
    report(times, args)


def report(times: dict[str, list[float]], args: argparse.Namespace) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for name, t in med.items():
        kind, impl = name.split("/")
        base = med[f"{kind}/snnlab-fused"]
        per = t / args.batch if kind == "sample" else t
        rows.append(
            {
                "case": kind,
                "impl": impl,
                "seconds": t,
                "per_image_s" if kind == "sample" else "step_s": per,
                "vs_snnlab_fused": t / base,
            }
        )
        print(
            f"{kind:7s} {impl:22s} median {t:8.3f} s  ({per:.4f} s {'per image' if kind == 'sample' else 'per step'})"
            f"  x{t / base:.2f} of snnlab-fused"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "date": datetime.date.today().isoformat(),
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "batch": args.batch,
        "ddim_steps": args.steps,
        "reps": args.reps,
        "config": CONFIG,
        "rows": rows,
        "raw": times,
    }
    (RESULTS / "diffusion.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
