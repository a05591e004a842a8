"""snnlab.train.allocator: the trainers keep freed heap memory, so a step does not fault its pages in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from snnlab.train import allocator
from snnlab.train import trainer as trainer_module
from snnlab.train.config import load_config

from .conftest import write_recipe

# Each round allocates ten 3 MiB tensors, writes them and frees them; the page faults of the
# third round are printed. With glibc's dynamic thresholds the freed heap top is trimmed after
# every round and faulted in again; with keep_freed_memory() it stays.
PROBE = """
import resource, sys, torch
from snnlab.train.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "on" else False
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [torch.ones(3 << 18) for _ in range(10)]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, faults[-1])
"""

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only here")


def _probe(mode: str, env_value: str | None = None) -> tuple[str, int]:
    env = dict(os.environ)
    env.pop(allocator.ENV, None)
    if env_value is not None:
        env[allocator.ENV] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    applied, faults = out.stdout.split()
    return applied, int(faults)


@glibc
def test_freed_memory_is_reused_without_page_faults() -> None:
    applied, kept = _probe("on")
    _, default = _probe("off")
    assert applied == "True"
    assert kept < 200  # 30 MiB written again: 7,680 pages when faulted in
    assert default > 5 * max(kept, 100)  # glibc's defaults trim and fault the pages in again


@glibc
def test_environment_turns_it_off() -> None:
    applied, faults = _probe("on", env_value="0")
    assert applied == "False" and faults > 1000


def test_enabled_reads_the_variable() -> None:
    assert allocator.enabled({}) and allocator.enabled({allocator.ENV: "1"})
    assert not any(allocator.enabled({allocator.ENV: v}) for v in ("0", "off", "false", "no"))


def test_trainer_applies_it(monkeypatch, tmp_path) -> None:
    calls: list[int] = []
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append(1) or True)
    trainer_module.Trainer(load_config(write_recipe(tmp_path, {}, "r.yaml")))
    assert calls == [1]
