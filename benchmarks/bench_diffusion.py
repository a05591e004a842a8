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
so slow phases of a shared machine hit all of them alike. ``--profile`` instead profiles training
steps of the recipe (batch 32) with ``torch.profiler`` and prints where the time goes: 2-D and 3-D
convolutions forward and backward, the fused IF op, BatchNorm, concatenation and upsampling,
copies, the optimiser, and the rest (small ops, autograd and Python). Usage::

    python benchmarks/bench_diffusion.py --reps 3       # a few minutes on 2 cores
    python benchmarks/bench_diffusion.py --profile --batch 32 --threads 1
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


def _category(name: str, shapes: list) -> str:
    dims = "3d" if shapes and len(shapes[0]) == 5 else "2d"
    if name == "aten::mkldnn_convolution":
        return f"conv {dims} forward"
    if name == "aten::convolution_backward":
        return f"conv {dims} backward"
    if "batch_norm" in name:
        return "batchnorm (forward + backward)"
    if "FusedNeuron" in name:
        return "IF neurons, fused (forward + backward)"
    if "Adam" in name or name in ("aten::addcdiv_", "aten::_foreach_mul_", "aten::_foreach_add_"):
        return "optimiser + EMA"
    if name in ("aten::cat", "aten::upsample_nearest2d", "aten::upsample_nearest2d_backward"):
        return "concat + upsample"
    if name in ("aten::copy_", "aten::clone"):
        return "copies"
    return "other (small ops, autograd, Python)"


def profile_step(model: nn.Module, batch: int, reps: int = 3) -> dict[str, float]:
    """Self CPU time per training step (ms) by category, from ``torch.profiler`` over ``reps`` steps."""
    from torch.profiler import ProfilerActivity, profile

    step = train_cases(model, batch)["train/snnlab-fused"]
    for _ in range(2):
        step()  # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(reps):
            step()
    out: dict[str, float] = {}
    for e in prof.key_averages(group_by_input_shape=True):
        key = _category(e.key, e.input_shapes)
        out[key] = out.get(key, 0.0) + e.self_cpu_time_total / 1e3 / reps
    total = sum(out.values())
    for key, ms in sorted(out.items(), key=lambda kv: -kv[1]):
        print(f"{key:40s} {ms:8.1f} ms/step  {100 * ms / total:5.1f} %")
    print(f"{'total (profiled)':40s} {total:8.1f} ms/step")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile training steps by category instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model("sddpm_unet", **CONFIG)
    if args.profile:
        profile_step(model, args.batch)
        return
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
