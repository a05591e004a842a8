"""Models of runs: fill dataset-dependent options, build, and reload a trained run.

``resolve_model_config`` completes the ``model`` section from the dataset (``num_classes``,
``in_features`` / ``input_shape`` / ``in_channels``) when the recipe leaves them out, so the
``config.yaml`` saved in a run folder is enough to rebuild the model exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from snnlab.errors import CheckpointError, ConfigError, one_line
from snnlab.recipe import read_yaml_recipe
from snnlab.train.config import Config, config_from_dict


def resolve_model_config(model: dict[str, Any], num_classes: int, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Return ``model`` with the dataset-dependent options filled in where the model takes them."""
    from snnlab.models import model_defaults

    out = dict(model)
    accepted = model_defaults(str(out["name"]))
    derived: dict[str, Any] = {}
    if num_classes:
        derived["num_classes"] = int(num_classes)
        derived["vocab_size"] = int(num_classes)  # language models: the dataset's vocabulary
    if input_shape:
        derived["in_features"] = int(math.prod(input_shape))
        derived["input_shape"] = list(input_shape)
        derived["in_channels"] = int(input_shape[0])
    for key, value in derived.items():
        if key in accepted and out.get(key) is None:
            out[key] = value
    return out


def build_model(model_cfg: dict[str, Any]) -> nn.Module:
    """``create_model(name, **options)`` from a ``model`` section."""
    from snnlab.models import create_model

    options = {k: v for k, v in model_cfg.items() if k != "name"}
    try:
        return create_model(str(model_cfg["name"]), **options)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:  # a constructor rejecting an option: name the section
        raise ConfigError(f"model ({model_cfg['name']}): {one_line(err)}") from None


@dataclass
class LoadedRun:
    """A trained run: its configuration, model (eval mode, weights loaded) and checkpoint metadata."""

    run_dir: Path
    config: Config
    model: nn.Module
    checkpoint: str  # "best" or "last"
    epoch: int
    best: float


def resolve_run_dir(path: str | Path) -> Path:
    """A run folder given as itself, its config.yaml, or a checkpoint inside it."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(
            f"run folder {str(path)!r} does not exist: not a run folder (expected runs/<name> "
            "written by 'snnlab train' or 'snnlab demo')"
        )
    if p.is_file():
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    if not (p / "config.yaml").is_file():
        raise CheckpointError(
            f"{path}: not a run folder (no config.yaml); expected runs/<name> written by "
            "'snnlab train' or 'snnlab demo'"
        )
    return p


def find_checkpoint(run_dir: Path, which: str = "best") -> Path:
    """``checkpoints/<which>.pt`` ("best" falls back to "last"); CheckpointError naming both when absent."""
    names = ("best", "last") if which == "best" else (which,)
    for name in names:
        path = run_dir / "checkpoints" / f"{name}.pt"
        if path.is_file():
            return path
    raise CheckpointError(
        f"run folder {str(run_dir)!r} has no checkpoint: expected checkpoints/best.pt "
        f"or checkpoints/last.pt (train it with `snnlab train`)"
    )


def _model_state(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The model weights of a checkpoint, without a DDP wrapper's ``module.`` prefix."""
    state = ckpt["model"]
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def load_run(path: str | Path, which: str = "best", device: Optional[torch.device] = None) -> LoadedRun:
    """Rebuild a run's model from ``config.yaml`` and ``checkpoints/<which>.pt``: the one run loader.

    Args:
        path: the run folder (or a file in it).
        which: "best" or "last"; "best" falls back to "last" when absent.
        device: where to put the model (default CPU).

    Returns:
        The run, its model in evaluation mode with the weights loaded.

    Raises:
        CheckpointError: missing folder/config/checkpoint or weights that do not fit the model.
        ConfigError: the config names an unknown model or option.
    """

    from snnlab.train.checkpoint import load_checkpoint

    if which not in ("best", "last"):
        raise ConfigError(f"checkpoint must be 'best' or 'last', got {which!r}")
    run_dir = resolve_run_dir(path)
    cfg_path = run_dir / "config.yaml"
    cfg = config_from_dict(read_yaml_recipe(cfg_path), str(cfg_path))
    file = find_checkpoint(run_dir, which)
    state = load_checkpoint(file)
    model = build_model(cfg.model)
    try:
        model.load_state_dict(_model_state(state))
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(
            f"{file}: the weights do not fit model '{cfg.model['name']}' of {cfg_path} ({first})"
        ) from None
    model.to(device or torch.device("cpu")).eval()
    return LoadedRun(run_dir, cfg, model, file.stem, int(state.get("epoch", 0)), float(state.get("best", math.nan)))
