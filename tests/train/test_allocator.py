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

# A fresh process frees one 30 MiB tensor (glibc's defaults map it and give it back at once: its
# resident set drops by 30 MiB; with keep_freed_memory() it is heap memory and stays), then runs six
# rounds of ten 3 MiB tensors, written and freed; it prints the drop and the page faults of the last
# three rounds (written again without faults when the heap is kept).
PROBE = """
import resource, sys, torch
from snnlab.train.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "on" else False
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() >> 20
t = torch.ones(30 << 18)
held = rss()
del t
drop = held - rss()
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [torch.ones(3 << 18) for _ in range(10)]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, drop, sum(faults[3:]))
"""

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only here")


def _probe(mode: str, env_value: str | None = None) -> tuple[str, int, int]:
    env = dict(os.environ)
    env.pop(allocator.ENV, None)
    if env_value is not None:
        env[allocator.ENV] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    applied, drop, faults = out.stdout.split()
    return applied, int(drop), int(faults)


@glibc
def test_freed_memory_stays_and_is_reused_without_page_faults() -> None:
    applied, drop, faults = _probe("on")
    assert applied == "True"
    assert drop <= 2  # MiB: the freed 30 MiB stay in the heap
    assert faults < 200  # 90 MiB written again in rounds 4-6: 23,000 pages if faulted in
    _, drop, _ = _probe("off")
    assert drop >= 28  # glibc's defaults: mapped and returned at once


@glibc
def test_environment_turns_it_off() -> None:
    applied, drop, _ = _probe("on", env_value="0")
    assert applied == "False" and drop >= 28


def test_enabled_reads_the_variable() -> None:
    assert allocator.enabled({}) and allocator.enabled({allocator.ENV: "1"})
    assert not any(allocator.enabled({allocator.ENV: v}) for v in ("0", "off", "false", "no"))


def test_trainer_applies_it(monkeypatch, tmp_path) -> None:
    calls: list[int] = []
    monkeypatch.setattr(trainer_module, "keep_freed_memory", lambda: calls.append(1) or True)
    trainer_module.Trainer(load_config(write_recipe(tmp_path, {}, "r.yaml")))
    assert calls == [1]
