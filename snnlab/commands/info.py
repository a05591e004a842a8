"""``snnlab info``: versions, kernel backends (and why one cannot run), devices, optional peers."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import platform
import textwrap
from typing import Any

EPILOG = textwrap.dedent(
    """\
    examples:
      snnlab info            # what is installed and what can run here
      snnlab info --json     # the same as JSON
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


def _backends() -> dict[str, dict[str, Any]]:
    from snnlab.kernels import BACKENDS, availability

    out = {}
    for name in BACKENDS:
        try:
            ok, why = availability(name)
        except Exception as err:  # noqa: BLE001 - report a broken backend instead of failing
            ok, why = False, f"{type(err).__name__}: {err}"
        out[name] = {"available": ok, "why_not": why}
    return out


def _devices() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {
        "cpu_threads": torch.get_num_threads(),
        "cuda_available": cuda,
        "cuda_devices": len(names),
        "cuda_names": names,
        "torch_cuda_build": torch.version.cuda,
    }


def collect() -> dict[str, Any]:
    """Everything ``snnlab info`` reports, as a dict."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in PACKAGES},
        "backends": _backends(),
        "devices": _devices(),
        "peers": {p: _version(p) for p in PEERS},
    }


def _text(info: dict[str, Any]) -> str:
    lines = [f"python      {info['python']}  ({info['platform']})"]
    lines += [f"{name:<11} {ver or 'not installed'}" for name, ver in info["versions"].items()]
    lines.append("backends:")
    for name, b in info["backends"].items():
        lines.append(f"  {name:<6} {'available' if b['available'] else 'unavailable: ' + b['why_not']}")
    d = info["devices"]
    cuda = f"{d['cuda_devices']} ({', '.join(d['cuda_names'])})" if d["cuda_available"] else "none"
    lines.append(f"devices:    cpu ({d['cpu_threads']} threads), cuda {cuda}")
    peers = [f"{p} {v}" for p, v in info["peers"].items() if v]
    missing = [p for p, v in info["peers"].items() if not v]
    lines.append(f"peers:      {', '.join(peers) or 'none'}" + (f"; missing: {', '.join(missing)}" if missing else ""))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the report."""
    import json

    info = collect()
    print(json.dumps(info, indent=2) if args.json else _text(info))
    return 0
