"""``snnlab info``: versions, kernel backends (and why one cannot run), devices, optional peers."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import textwrap
from typing import Any

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab info            # what is installed and what can run here
      snnlab info --json     # the same as JSON
      snnlab info --probe    # also import the backends and torch (seconds) to check they really run

    Without --probe, backends are judged from what is installed (and, for cuda, from the GPUs the
    CUDA driver lists), without importing numba, numba-cuda or torch: the command returns in well
    under 2 s. A kernel backend is imported and checked for real the first time a kernel needs it.
    """
)
PACKAGES = ("torch", "numpy", "numba", "numba-cuda", "nir", "h5py", "snnlab")
PEERS = ("spikingjelly", "norse", "snntorch", "dcls", "nirtorch", "brian2", "tensorboard")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="versions, backends available, devices",
        description="Show package versions, which kernel backends can run here (and why not), devices, "
        "and which optional peer libraries are installed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--probe", action="store_true", help="import the backends and torch to check them (takes seconds)"
    )
    parser.set_defaults(func=run)
    return parser


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        if dist == "snnlab":
            import snnlab

            return snnlab.__version__
        return None


def _backends(probe: bool) -> dict[str, dict[str, Any]]:
    from snnlab.kernels import BACKENDS, availability

    out = {}
    for name in BACKENDS:
        try:
            ok, why = availability(name, probe=probe)
        except Exception as err:  # noqa: BLE001 - report a broken backend instead of failing
            ok, why = False, f"{type(err).__name__}: {err}"
        out[name] = {"available": ok, "why_not": why}
    return out


def _devices(probe: bool) -> dict[str, Any]:
    """CPU cores and the GPUs the CUDA driver lists; with ``probe`` also what torch sees (imports it)."""
    from snnlab.kernels.probe import cuda_devices

    try:
        names = cuda_devices()
    except Exception:  # noqa: BLE001 - a misbehaving driver: report no GPU rather than fail
        names = []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out: dict[str, Any] = {
        "cpu_cores": cores,
        "cuda_driver": names is not None,
        "cuda_available": bool(names),
        "cuda_devices": len(names or []),
        "cuda_names": names or [],
    }
    if probe:
        import torch

        out.update(
            torch_threads=torch.get_num_threads(),
            torch_cuda_available=torch.cuda.is_available(),
            torch_cuda_build=torch.version.cuda,
        )
    return out


def collect(probe: bool = False) -> dict[str, Any]:
    """Everything ``snnlab info`` reports, as a dict (``probe``: import backends and torch to check)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in PACKAGES},
        "backends": _backends(probe),
        "probed": probe,
        "devices": _devices(probe),
        "peers": {p: _version(p) for p in PEERS},
    }


def _text(info: dict[str, Any]) -> str:
    lines = [f"python      {info['python']}  ({info['platform']})"]
    lines += [f"{name:<11} {ver or 'not installed'}" for name, ver in info["versions"].items()]
    how = "imported and checked" if info["probed"] else "from what is installed; --probe imports them"
    lines.append(f"backends ({how}):")
    for name, b in info["backends"].items():
        lines.append(f"  {name:<6} {'available' if b['available'] else 'unavailable: ' + b['why_not']}")
    d = info["devices"]
    cuda = f"{d['cuda_devices']} ({', '.join(d['cuda_names'])})" if d["cuda_available"] else "none"
    lines.append(f"devices:    cpu ({d['cpu_cores']} cores), cuda {cuda}")
    if info["probed"]:
        torch_cuda = f"CUDA {d['torch_cuda_build']}" if d["torch_cuda_available"] else "no CUDA"
        lines.append(f"torch sees: {d['torch_threads']} threads, {torch_cuda}")
    peers = [f"{p} {v}" for p, v in info["peers"].items() if v]
    missing = [p for p, v in info["peers"].items() if not v]
    lines.append(f"peers:      {', '.join(peers) or 'none'}" + (f"; missing: {', '.join(missing)}" if missing else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the report."""
    import json

    info = collect(args.probe)
    print(json.dumps(info, indent=2) if args.json else _text(info))
    return 0
