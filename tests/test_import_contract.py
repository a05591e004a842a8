"""The import contract of docs/architecture.md, read from the source with ``ast``.

Layers, lowest first: functional < kernels < nn < models < train / inference / analysis < apps <
commands (+ cli); inside the middle tier analysis < inference < train; ir sits beside models
(it reads nn modules), sim and hw read ir's graph types and import no torch; data imports no
model code. ``errors``, ``registry``, ``fmt``, ``recipe`` (the typed-recipe loader) and ``results``
(the results-file names) are the base every layer may use; the training recipe
(``train.config``) belongs to train. Every ``import`` counts, also those inside functions (lazy
imports are still dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "snnlab"
BASE = {"snnlab", "errors", "registry", "fmt", "recipe", "results"}  # recipe: typed-recipe loader; results: file names
_CORE = {"functional", "kernels", "nn"}
_MODELS = _CORE | {"models"}
_LIBRARY = _MODELS | {"ir", "sim", "hw", "data", "train", "inference", "analysis", "surrogate"}
ALLOWED: dict[str, set[str]] = {  # layer -> layers it may import (besides itself and BASE)
    "functional": set(),
    "surrogate": {"functional"},
    "kernels": {"functional"},
    "nn": {"functional", "kernels"},
    "models": _CORE,
    "data": set(),
    "ir": _CORE,
    "sim": {"ir"},
    "hw": {"ir"},
    "analysis": _MODELS | {"ir", "hw"},
    "train": _MODELS | {"ir", "data", "analysis", "inference"},
    "inference": _MODELS | {"ir", "sim", "data", "analysis"},
    "apps": _LIBRARY,
    "commands": _LIBRARY | {"apps"},
    "cli": _LIBRARY | {"apps", "commands"},
}
# the backend registry imports no torch; the simulator's engines register in it (op sim_engine)
SHARED = ("snnlab.kernels.registry",)
NO_TORCH = ("sim", "hw")  # they read NIR graphs, never torch modules
# kernel backends are reached through the registry only; the cuda backend shares code through
# kernels/common, never through the numba backend
BACKEND_MODULES = (
    "snnlab.kernels.numba",
    "snnlab.kernels.cuda",
    "snnlab.kernels.common",
    "snnlab.kernels.torch_ref",
    "snnlab.kernels.torch_delay",
)
# Remaining violations, each named with the module that imports and what it imports. The list
# only shrinks: remove an entry when its import is gone.
ALLOW_LIST: set[tuple[str, str]] = set()  # none left


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "snnlab"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every absolute import of ``path`` (``from snnlab import nn`` counts as ``snnlab.nn``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "snnlab":
                names |= {f"snnlab.{alias.name}" for alias in node.names}
    return names


MODULES = _modules()


def _violations(rule) -> list[str]:
    found = []
    for module, path in sorted(MODULES.items()):
        for name in sorted(_imports(path)):
            why = rule(module, name)
            if why and (module, name) not in ALLOW_LIST:
                found.append(f"{module} imports {name}: {why}")
    return found


def _layering(module: str, name: str) -> str:
    if not name.startswith("snnlab."):
        return ""
    src, dst = _layer(module), _layer(name)
    if src in ("snnlab",) or dst in BASE or dst == src or name in SHARED:
        return ""
    allowed = ALLOWED.get(src)
    if allowed is None:
        return f"layer {src!r} is not in the contract (add it to ALLOWED and docs/architecture.md)"
    return "" if dst in allowed else f"{src} may import only {sorted(allowed | BASE)}"


def test_layers_import_only_below_them():
    assert _violations(_layering) == []


def test_sim_and_hw_import_no_torch():
    def rule(module: str, name: str) -> str:
        return "no torch in sim/hw" if _layer(module) in NO_TORCH and name.split(".")[0] == "torch" else ""

    assert _violations(rule) == []


def test_kernel_backends_are_reached_through_the_registry():
    def rule(module: str, name: str) -> str:
        if not name.startswith(BACKEND_MODULES) or module.startswith("snnlab.kernels"):
            return ""
        return "use snnlab.kernels.dispatch (the registry) instead of a backend module"

    assert _violations(rule) == []


def test_cuda_backend_does_not_import_the_numba_backend():
    def rule(module: str, name: str) -> str:
        bad = module.startswith(("snnlab.kernels.cuda", "snnlab.kernels.common")) and name.startswith(
            "snnlab.kernels.numba"
        )
        return "shared kernel code lives in snnlab.kernels.common" if bad else ""

    assert _violations(rule) == []


def test_base_modules_import_no_other_layer():
    """The base (errors, registry, fmt, recipe) sits under every layer: it imports none of them."""
    for name in sorted(BASE - {"snnlab"}):
        inside = {n for n in _imports(MODULES[f"snnlab.{name}"]) if n.startswith("snnlab.")}
        assert {_layer(n) for n in inside} <= BASE, f"snnlab.{name} imports {sorted(inside)}"


def test_functional_and_kernel_registry_import_no_backend():
    assert "torch" not in {n.split(".")[0] for n in _imports(MODULES["snnlab.kernels.registry"])}
    assert _imports(MODULES["snnlab.functional.equations"]) <= {"__future__"}


@pytest.mark.parametrize("entry", sorted(ALLOW_LIST))
def test_allow_list_names_real_imports(entry):
    module, name = entry
    if module not in MODULES:
        pytest.skip(f"{module} is not in this tree (an entry for work landing in parallel)")
    assert name in _imports(MODULES[module]), f"{module} no longer imports {name}: remove the entry"
