"""After a non-editable install the recipes and hardware profiles come with the package.

Builds the wheel from a copy of the sources (the checkout is left untouched), installs it into a
folder and runs ``snnlab recipes`` from an empty working folder with only that install on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_recipes_and_profiles(tmp_path):
    src = tmp_path / "src"
    for name in ("snnlab", "experiments", "hw"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("snnlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {p.name for p in (ROOT / "experiments").glob("*.yaml")}
    assert {f"snnlab/resources/experiments/{r}" for r in recipes} <= names
    assert "snnlab/resources/hw/loihi2.yaml" in names

    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True, timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import snnlab, sys; from snnlab.cli import main; print(snnlab.__file__); sys.exit(main(['recipes']))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(str(target))  # the installed copy, not the checkout
    assert "demo_digits" in proc.stdout and "shd_delays" in proc.stdout
