"""Typed run configuration: YAML recipe -> nested dataclasses, with ``--set key=value`` overrides.

A recipe has four sections::

    data:  {name: digits, batch_size: 64, options: {n_time_bins: 16}}
    model: {name: mlp_snn, hidden: [128], tau: 2.0}        # keys of the model's constructor
    train: {epochs: 8, loss: mean, optimizers: [{name: adam, lr: 1.0e-3}]}
    run:   {name: demo, out_dir: runs}

Every key is checked: an unknown key fails with the list of valid ones, a value of the wrong
type fails naming the field and the expected type. ``model`` keys are checked against the
signature of the registered model (see :func:`snnlab.models.model_defaults`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import yaml

from snnlab.errors import ConfigError

LOSSES = ("mean", "sum_softmax", "last", "lm")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "onecycle", "step", "multistep", "exponential", "warmup_cosine")
INTERVALS = ("epoch", "batch")
AMP_MODES = ("auto", "off", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class DataConfig:
    """Dataset and loader options; ``options`` go to ``snnlab.data.create_dataset`` for every split.

    ``valid_split`` (e.g. ``"valid"``) turns on model selection on a validation split: it is
    evaluated every epoch and selects ``best.pt``, and the test split is touched once, at the
    end, to report the best checkpoint. ``train_options`` reach the training split only, which is
    where a held-out validation subset is removed (``train_options: {holdout_valid: true}`` for
    digits and SHD, whose ``valid`` split is carved out of the training data).
    """

    name: str = "digits"
    root: Optional[str] = None
    batch_size: int = 64  # global batch, split evenly over DDP ranks
    eval_batch_size: int = 256
    num_workers: int = 0
    train_split: str = "train"
    test_split: str = "test"
    valid_split: Optional[str] = None  # selects best.pt when set; None: selection on test_split
    options: dict[str, Any] = field(default_factory=dict)
    train_options: dict[str, Any] = field(default_factory=dict)  # training split only (augmentation, holdout)
    limit_train: Optional[int] = None  # keep the first N training samples (smoke runs)
    limit_test: Optional[int] = None
    limit_valid: Optional[int] = None


@dataclass
class SchedulerConfig:
    """Learning-rate schedule of one optimiser, stepped per ``interval``."""

    name: str = "none"
    interval: str = "epoch"
    max_lr: Optional[float] = None  # onecycle peak (default: 5 x lr)
    pct_start: float = 0.3  # onecycle warm-up fraction
    eta_min: float = 0.0  # cosine floor
    step_size: int = 30  # step
    milestones: list[int] = field(default_factory=list)  # multistep
    gamma: float = 0.1  # step, multistep, exponential
    warmup: int = 0  # warmup_cosine: warm-up length in intervals
    warmup_start_factor: float = 0.01


@dataclass
class OptimizerConfig:
    """One optimiser over the parameters whose names match ``params`` (comma-separated globs).

    ``params: "*"`` takes every parameter that no other optimiser selected.
    """

    name: str = "adam"
    params: str = "*"
    lr: float = 1e-3
    weight_decay: float = 0.0
    no_decay: str = ""  # comma-separated globs within this group that get weight decay 0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    momentum: float = 0.9  # sgd
    nesterov: bool = False  # sgd
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)


@dataclass
class MixupConfig:
    """``train.mixup``: Mixup / CutMix of training batches (:mod:`snnlab.train.mixup`); zero alphas: off."""

    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    prob: float = 1.0  # probability of mixing a batch
    switch_prob: float = 0.5  # probability of CutMix when both alphas are > 0
    off_epoch: Optional[int] = None  # no mixing from this epoch (0-based) on

    def validate(self) -> None:
        """Raise ConfigError for negative alphas or probabilities outside [0, 1]."""
        if min(self.mixup_alpha, self.cutmix_alpha) < 0 or not 0 <= self.prob <= 1 or not 0 <= self.switch_prob <= 1:
            raise ConfigError(f"train.mixup: alphas must be >= 0 and prob, switch_prob in [0, 1], got {self}")

    @property
    def enabled(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0


@dataclass
class TrainConfig:
    """Loop options: loss on the per-step outputs, optimisers, precision, reproducibility."""

    epochs: int = 10
    loss: str = "mean"
    label_smoothing: float = 0.0
    grad_clip: Optional[float] = None  # max global gradient norm
    amp: str = "auto"  # autocast on CUDA: bf16 when supported, else fp16
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    max_batches: Optional[int] = None  # cap training batches per epoch (smoke runs)
    optimizers: list[OptimizerConfig] = field(default_factory=lambda: [OptimizerConfig()])
    mixup: MixupConfig = field(default_factory=MixupConfig)  # with label_smoothing on the soft targets


@dataclass
class RunConfig:
    """Where the run folder goes and what it logs."""

    name: Optional[str] = None  # default: the recipe's file name
    out_dir: str = "runs"
    tensorboard: bool = False
    progress: bool = True
    # metric that selects best.pt (higher is better; ties: lower loss of the same split): valid_acc,
    # test_acc or train_acc; None: valid_acc when data.valid_split is set, else test_acc
    monitor: Optional[str] = None


@dataclass
class Config:
    """A whole recipe."""

    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=lambda: {"name": "mlp_snn"})
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON/checkpoint safe)."""
        return asdict(self)

    def run_dir(self) -> Path:
        """``run.out_dir / run.name``."""
        return Path(self.run.out_dir) / str(self.run.name or "run")

    def save(self, path: Path) -> None:
        """Write the resolved configuration as YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


_CHOICES = {
    ("train", "loss"): LOSSES,
    ("train", "amp"): AMP_MODES,
    ("train", "device"): DEVICES,
    ("run", "monitor"): ("valid_acc", "test_acc", "train_acc"),
    ("name",): OPTIMIZERS,
    ("scheduler", "name"): SCHEDULERS,
    ("scheduler", "interval"): INTERVALS,
}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


# field name -> (check, what is valid): every number is checked here, before torch sees it
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
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


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check/coerce ``value`` against annotation ``tp``; raise ConfigError naming ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}.{i}") for i, v in enumerate(value)]
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
    values = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in raw.items()}
    obj = cls(**values)
    _check_values(obj, where)
    return obj


def _check_values(obj: Any, where: str) -> None:
    """Choices and ranges of the fields of one section."""
    section = where.split(".")[-1] if where else ""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        choices = _CHOICES.get((section, f.name)) or (_CHOICES.get((f.name,)) if section.isdigit() else None)
        if choices and value is not None and value not in choices:
            raise ConfigError(f"{where}.{f.name}: '{value}' is not valid; valid: {', '.join(choices)}")
        check = _RANGES.get(f.name)
        if check and value is not None and not check[0](value):
            raise ConfigError(f"{where}.{f.name}: {value!r} is not valid; valid: {check[1]}")


def resolve_monitor(cfg: Config) -> None:
    """Fill ``run.monitor`` from the splits and check that it names a metric the trainer logs.

    Raises:
        ConfigError: a validation split equal to the train/test split, ``valid_acc`` without a
            validation split, or ``test_acc`` with one (the test split is then kept for the
            final report only).
    """
    data, run = cfg.data, cfg.run
    if data.valid_split is not None and data.valid_split in (data.train_split, data.test_split):
        raise ConfigError(
            f"data.valid_split: '{data.valid_split}' must differ from train_split "
            f"'{data.train_split}' and test_split '{data.test_split}'"
        )
    if run.monitor is None:
        run.monitor = "valid_acc" if data.valid_split is not None else "test_acc"
    if run.monitor == "valid_acc" and data.valid_split is None:
        raise ConfigError(
            "run.monitor: 'valid_acc' needs data.valid_split (e.g. 'valid'); valid here: test_acc, train_acc"
        )
    if run.monitor == "test_acc" and data.valid_split is not None:
        raise ConfigError(
            f"run.monitor: 'test_acc' with data.valid_split '{data.valid_split}': the test split "
            "is evaluated only once, for the final report; valid here: valid_acc, train_acc"
        )


def _check_model(model: Any, source: str) -> dict[str, Any]:
    """Validate the ``model`` section against the registered model's constructor."""
    import inspect

    from snnlab.models import model_defaults

    if not isinstance(model, dict) or "name" not in model:
        raise ConfigError(f"{source}: model: expected a mapping with a 'name' key, got {model!r}")
    model = dict(model)
    try:
        defaults = model_defaults(str(model["name"]))
    except ConfigError as err:
        raise ConfigError(f"{source}: model.name: {err}") from None
    unknown = sorted(set(model) - set(defaults) - {"name"})
    if unknown:
        raise ConfigError(
            f"{source}: model: unknown key(s) {unknown} for model '{model['name']}'; "
            f"valid: name, {', '.join(sorted(defaults))}"
        )
    for key, value in model.items():
        default = defaults.get(key, inspect.Parameter.empty)
        if key == "name" or default is None or default is inspect.Parameter.empty or value is None:
            continue
        tp = list if isinstance(default, (list, tuple)) else type(default)
        model[key] = _convert(value, tp if tp is not list else list[Any], f"{source}: model.{key}")
        _check_model_value(key, model[key], default, f"{source}: model.{key}")
    return model


def _check_model_value(key: str, value: Any, default: Any, where: str) -> None:
    """Ranges of the model options every family shares: sizes, ``dt``, surrogates, finite floats."""
    if isinstance(default, (list, tuple)) and default and all(isinstance(d, int) for d in default):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            raise ConfigError(f"{where}: {value!r} is not valid; valid: a list of integers >= 1")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value!r} is not valid; valid: a finite number")
    if key == "dt" and value <= 0:
        raise ConfigError(f"{where}: {value!r} is not valid; valid: the time step in seconds, > 0")
    if key.endswith("alpha") and isinstance(value, (int, float)) and value <= 0:
        raise ConfigError(f"{where}: {value!r} is not valid; valid: a surrogate sharpness > 0")
    if key == "surrogate" and isinstance(value, str):
        from snnlab.functional.surrogate import SURROGATES

        if value not in SURROGATES:
            raise ConfigError(f"{where}: '{value}' is not valid; valid: {', '.join(sorted(SURROGATES))}")


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    """Build and validate a :class:`Config` from a nested mapping.

    Args:
        raw: the parsed YAML document.
        source: name of the file (for messages).

    Raises:
        ConfigError: unknown keys, wrong types or invalid values, naming the field.
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping with sections data, model, train, run; got {type(raw).__name__}"
        )
    sections = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {unknown}; valid: {', '.join(sorted(sections))}")
    try:
        cfg = Config(
            data=build_dataclass(DataConfig, raw.get("data"), "data"),
            model=_check_model(raw.get("model", {"name": "mlp_snn"}), source),
            train=build_dataclass(TrainConfig, raw.get("train"), "train"),
            run=build_dataclass(RunConfig, raw.get("run"), "run"),
        )
    except ConfigError as err:
        msg = str(err)
        raise ConfigError(msg if msg.startswith(source) else f"{source}: {msg}") from None
    if not cfg.train.optimizers:
        raise ConfigError(f"{source}: train.optimizers: at least one optimiser is needed")
    _check_run_name(cfg.run.name, source)
    try:
        resolve_monitor(cfg)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return cfg


def _check_run_name(name: Optional[str], source: str) -> None:
    """``run.name`` is a folder inside ``run.out_dir``: not absolute, no ``..``, not empty."""
    if name is None:
        return
    parts = Path(name).parts
    if not name.strip() or Path(name).is_absolute() or ".." in parts or name.startswith("~") or "\0" in name:
        raise ConfigError(
            f"{source}: run.name: {name!r} is not valid; valid: a folder name inside run.out_dir "
            "(no leading '/', '~' or '..'); to write elsewhere set run.out_dir"
        )


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


R = typing.TypeVar("R")


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


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML recipe, apply ``--set`` overrides, validate, and name the run.

    Args:
        path: the YAML file.
        overrides: ``"section.key=value"`` strings applied in order.

    Raises:
        ConfigError: missing file, unreadable YAML or any invalid field, naming the file.
    """
    path = Path(path)
    raw = read_yaml_recipe(path, overrides)
    cfg = config_from_dict(raw, str(path))
    if cfg.run.name is None:
        cfg.run.name = path.stem
    return cfg
