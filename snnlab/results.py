"""Where results files go: one naming rule for every command.

A run folder ``RUN`` holds at most three kinds of results file, all JSON:

- ``RUN/eval.json``: the run's evaluation on its test split, the figures the run is reported
  by. Written by whatever trained the run (``snnlab train``, ``snnlab lsm run``, ``snnlab lsm
  zeroshot``, ``snnlab motion train``) and rewritten by ``snnlab eval RUN``.
- ``RUN/eval/<tag>.json``: a further evaluation of a finished run under chosen settings, one
  file per setting; the tag names them (``snnlab diffusion eval``: sampler, steps, threshold,
  samples, seed, or ``--tag``; ``snnlab diffusion baseline``; ``snnlab lm eval``:
  ``bpc_<split>_<checkpoint>``).
- ``RUN/<study>.json``: a named study of a run, named after the action or option that runs it
  (:data:`STUDIES`): ``early_exit.json`` (``snnlab eval --early-exit``), ``sim_check.json``
  (the demo's simulator-vs-dense check), ``prune.json`` (``snnlab motion prune``),
  ``study.json`` (``snnlab lsm study``).

Other JSON files in a run folder are data, not results (:data:`ARTEFACTS`): the activity profile
``activity.json`` (``snnlab eval``; ``snnlab simulate`` writes one into its ``sim/`` folder
beside ``counts.json``) and chip descriptors ``hw/<chip>.json``. This module imports nothing of
snnlab but its errors: every layer may name a results file through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from snnlab.errors import ConfigError

EVAL = "eval.json"
EVAL_DIR = "eval"
STUDIES = {  # study -> the command that runs it
    "early_exit": "snnlab eval RUN --early-exit",
    "sim_check": "snnlab demo (simulator vs dense model)",
    "prune": "snnlab motion prune",
    "study": "snnlab lsm study",
}
ACTIVITY = "activity.json"  # an ActivityProfile (counts per layer): data that hw prices
COUNTS = "counts.json"  # the event-driven simulator's counts
ARTEFACTS = (ACTIVITY, f"sim/{ACTIVITY}", f"sim/{COUNTS}", "hw/*.json")


def eval_path(run_dir: str | Path) -> Path:
    """``RUN/eval.json``: the run's test-split evaluation."""
    return Path(run_dir) / EVAL


def tagged_eval_path(run_dir: str | Path, tag: str) -> Path:
    """``RUN/eval/<tag>.json``: one evaluation of a finished run under the settings ``tag`` names.

    Raises:
        ConfigError: ``tag`` is empty or not a plain file name.
    """
    if not tag or Path(tag).name != tag or tag.startswith("."):
        raise ConfigError(f"results tag {tag!r} is not valid; valid: a plain file name such as ddim50_n256")
    return Path(run_dir) / EVAL_DIR / f"{tag}.json"


def study_path(run_dir: str | Path, study: str) -> Path:
    """``RUN/<study>.json`` for one of :data:`STUDIES`."""
    if study not in STUDIES:
        raise ValueError(f"study {study!r} has no results file; valid: {', '.join(STUDIES)}")
    return Path(run_dir) / f"{study}.json"


def activity_path(folder: str | Path) -> Path:
    """``<folder>/activity.json``: the activity profile of an evaluation (``RUN``) or simulation (``RUN/sim``)."""
    return Path(folder) / ACTIVITY


def descriptor_path(run_dir: str | Path, chip: str) -> Path:
    """``RUN/hw/<chip>.json``: the chip descriptor of a run's graph on one hardware profile."""
    return Path(run_dir) / "hw" / f"{chip}.json"


def write_results(path: Path, report: dict[str, Any]) -> Path:
    """Write ``report`` as indented JSON, atomically (temp file + rename); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(path)
    return path


def stray_results(run_dir: str | Path) -> list[str]:
    """JSON files under ``run_dir`` (relative paths) that the rule above does not name."""
    root = Path(run_dir)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json") if not follows_rule(p.relative_to(root)))


def follows_rule(relative: str | Path) -> bool:
    """Whether a JSON file at ``relative`` (inside a run folder) is named by the rule above."""
    path = Path(relative)
    parts = path.parts
    if path.suffix != ".json":
        return True
    if len(parts) == 1:
        return path.name == EVAL or path.stem in STUDIES or path.name in ARTEFACTS
    if len(parts) == 2 and parts[0] == EVAL_DIR:
        return True
    return any(path.match(pattern) for pattern in ARTEFACTS if "/" in pattern)
