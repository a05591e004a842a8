"""Typed recipes: a YAML mapping -> nested dataclasses, checked field by field, with ``--set`` overrides.

Every recipe of the house (the training :class:`snnlab.train.config.Config`, the diffusion
recipe, the apps' LSM and motion recipes) is a dataclass built by :func:`build_dataclass`:

- an unknown key fails with the list of valid ones;
- a value of the wrong type fails naming the field and the expected type (numbers written as
  strings, as YAML 1.1 reads ``1e-3``, become floats);
- a field declared with :func:`choice` must take one of its options;
- a field whose name is in :data:`FIELD_RULES` (``lr``, ``epochs``, ``seed``...) must satisfy the
  rule every recipe shares for that name.

``read_yaml_recipe`` reads a file and applies ``--set section.key=value`` overrides;
``typed_recipe`` / ``load_typed_recipe`` build a recipe dataclass and run its ``validate()``.
This module imports nothing of snnlab but its errors: any layer may read a recipe.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Callable, Union

import yaml

from snnlab.errors import ConfigError

R = typing.TypeVar("R")


def choice(default: Any, options: typing.Sequence[str]) -> Any:
    """A dataclass field that must take one of ``options`` (``None`` passes when it is the type's)."""
    return dataclasses.field(default=default, metadata={"choices": tuple(options)})


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


# field name -> (check, what is valid): every number is checked here, before torch sees it
FIELD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epochs": (lambda v: v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "eval_batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "num_workers": (lambda v: v >= 0, "an integer >= 0 (0: load in the main process)"),
    "limit_train": (lambda v: v >= 1, "an integer >= 1 or null"),
    "limit_test": (lambda v: v >= 1, "an integer >= 1 or null"),
    "limit_valid": (lambda v: v >= 1, "an integer >= 1 or null"),
    "lr": (lambda v: _finite(v) and 0 < v <= 1e3, "a finite number in (0, 1000]"),
    "max_lr": (lambda v: _finite(v) and 0 < v <= 1e3, "a number in (0, 1000] or null"),
    "weight_decay": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "eps": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "momentum": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "betas": (
        lambda v: len(v) == 2 and all(_finite(b) and 0 <= b < 1 for b in v),
        "two numbers in [0, 1), e.g. [0.9, 0.999]",
    ),
    "grad_clip": (lambda v: _finite(v) and v > 0, "a finite number > 0 or null (no clipping)"),
    "label_smoothing": (lambda v: _finite(v) and 0 <= v < 1, "a number in [0, 1)"),
    "seed": (lambda v: 0 <= v < 2**63, "an integer in [0, 2**63)"),
    "max_batches": (lambda v: v >= 1, "an integer >= 1 or null (every batch)"),
    "pct_start": (lambda v: _finite(v) and 0 < v < 1, "a number in (0, 1)"),
    "eta_min": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "step_size": (lambda v: v >= 1, "an integer >= 1"),
    "milestones": (
        lambda v: all(isinstance(m, int) and m >= 1 for m in v) and list(v) == sorted(v),
        "increasing integers >= 1",
    ),
    "gamma": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
    "warmup": (lambda v: v >= 0, "an integer >= 0"),
    "warmup_start_factor": (lambda v: _finite(v) and 0 < v <= 1, "a number in (0, 1]"),
}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def convert(value: Any, tp: Any, where: str) -> Any:
    """Check/coerce ``value`` against annotation ``tp``; raise ConfigError naming ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(value, inner[0], where)
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [convert(v, args[0], f"{where}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return _scalar(value, tp, where)


def _scalar(value: Any, tp: Any, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-3" as a string
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is Any:
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def build_dataclass(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every field's type and rejecting unknown keys.

    Args:
        cls: a dataclass whose fields carry type annotations.
        raw: the mapping read from YAML (``None`` means every field takes its default).
        where: the dotted config path named in errors (e.g. ``"train"``; ``""`` at top level).

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: ``raw`` is not a mapping, has an unknown key, or a value of the wrong type.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(names)}")
    values = {k: convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in raw.items()}
    obj = cls(**values)
    _check_values(obj, where)
    return obj


def _check_values(obj: Any, where: str) -> None:
    """Declared choices and the shared field rules of one section."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        choices = f.metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise ConfigError(f"{where}.{f.name}: '{value}' is not valid; valid: {', '.join(choices)}")
        check = FIELD_RULES.get(f.name)
        if check and value is not None and not check[0](value):
            raise ConfigError(f"{where}.{f.name}: {value!r} is not valid; valid: {check[1]}")


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"train.epochs=3"`` -> (["train", "epochs"], 3); the value is parsed as YAML."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set train.epochs=3")
    key, text = item.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return path, value


def apply_override(raw: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``raw[path[0]][path[1]]... = value``; list items are addressed by index."""
    node: Any = raw
    for depth, key in enumerate(path[:-1]):
        where = ".".join(path[: depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"--set {'.'.join(path)}: '{where}' needs an index below {len(node)}")
            node = node[int(key)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(
                f"--set {'.'.join(path)}: '{'.'.join(path[:depth])}' holds {node!r}, not a section; "
                f"set it directly, e.g. --set {'.'.join(path[:depth])}=VALUE"
            )
        if node.get(key) is None:
            node[key] = [{}] if key == "optimizers" else {}  # absent optimisers: one default optimiser
        node = node[key]
    last = path[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"--set {'.'.join(path)}: index must be below {len(node)}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        parent = ".".join(path[:-1])
        raise ConfigError(
            f"--set {'.'.join(path)}: '{parent}' holds {node!r}, not a section; "
            f"set it directly, e.g. --set {parent}=VALUE"
        )


def read_yaml_recipe(path: str | Path, overrides: typing.Sequence[str] = ()) -> dict[str, Any]:
    """A YAML recipe as a mapping, with ``--set section.key=value`` overrides applied in order.

    Raises:
        ConfigError: missing file, invalid YAML, a top level that is not a mapping, or an
            override that descends into a value that is not a section.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; valid: a YAML recipe file, e.g. experiments/demo_digits.yaml")
    if not path.is_file():
        raise ConfigError(f"file not found: recipe {str(path)!r}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: not a text file (binary bytes); valid: a YAML recipe, e.g. experiments/demo_digits.yaml"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for item in overrides:
        keys, value = parse_override(item)
        if len(keys) > 1 and not isinstance(raw.get(keys[0], {}), dict):
            raise ConfigError(f"--set {item}: {keys[0]!r} is not a section")
        apply_override(raw, keys, value)
    return raw


def typed_recipe(cls: type[R], raw: Any, where: str = "recipe") -> R:
    """Build the recipe dataclass ``cls`` from a mapping; the one loader of every typed recipe.

    Field types and unknown keys are checked by :func:`build_dataclass`; then the recipe's own
    ``validate()`` (when it has one) checks ranges and cross-field rules and may normalise
    sections. Errors are prefixed with ``where`` (the file name).

    Raises:
        ConfigError: naming ``where``, the field and what is valid.
    """
    if not isinstance(raw, dict):
        keys = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        raise ConfigError(f"{where}: expected a mapping with keys {keys}, got {type(raw).__name__}")
    try:
        recipe = build_dataclass(cls, raw, "")
        if hasattr(recipe, "validate"):
            recipe.validate()
    except ConfigError as err:
        raise ConfigError(f"{where}: {str(err).removeprefix(': ')}") from None
    return recipe


def load_typed_recipe(cls: type[R], path: str | Path, overrides: typing.Sequence[str] = ()) -> R:
    """Read a YAML recipe, apply ``--set`` overrides and build ``cls`` (see :func:`typed_recipe`);
    a recipe with a ``name`` field is named after the file unless it names itself."""
    path = Path(path)
    raw = read_yaml_recipe(path, overrides)
    if "name" in {f.name for f in dataclasses.fields(cls)}:  # type: ignore[arg-type]
        raw.setdefault("name", path.stem)
    return typed_recipe(cls, raw, path.name)
