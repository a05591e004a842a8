"""Layering of the apps: hardware models stay torch-free, and only the CLI imports an app."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import snnlab.hw

PACKAGE = Path(snnlab.hw.__file__).resolve().parents[1]  # snnlab/


def test_every_hw_module_imports_without_torch():
    names = [f"snnlab.hw.{m.name}" for m in pkgutil.iter_modules(snnlab.hw.__path__)]
    code = "import sys\n" + "".join(f"import {n}\n" for n in names) + "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "snnlab.hw.rram" in names and out.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    found |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    return found


def test_only_commands_and_apps_import_apps():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.parent.name != "commands"
        and "apps" not in p.relative_to(PACKAGE).parts
        and any(m.startswith("snnlab.apps") for m in _imports(p))
    ]
    assert offenders == []
