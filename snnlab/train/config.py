"""The training recipe: YAML -> :class:`Config` (data, model, train, run), with ``--set`` overrides.

A recipe has four sections::

    data:  {name: digits, batch_size: 64, options: {n_time_bins: 16}}
    model: {name: mlp_snn, hidden: [128], tau: 2.0}        # keys of the model's constructor
    train: {epochs: 8, loss: mean, optimizers: [{name: adam, lr: 1.0e-3}]}
    run:   {name: demo, out_dir: runs}

The sections are built by the typed-recipe loader (:mod:`snnlab.recipe`): an unknown key fails
with the list of valid ones, a value of the wrong type fails naming the field and the expected
type. ``model`` keys are checked against the signature of the registered model (see
:func:`snnlab.models.model_defaults`). A run folder's ``config.yaml`` is this mapping, resolved.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from snnlab.errors import ConfigError
from snnlab.models import model_defaults
from snnlab.recipe import build_dataclass, choice, convert, read_yaml_recipe

LOSSES = ("mean", "sum_softmax", "last", "lm")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "onecycle", "step", "multistep", "exponential", "warmup_cosine")
INTERVALS = ("epoch", "batch")
AMP_MODES = ("auto", "off", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
MONITORS = ("valid_acc", "test_acc", "train_acc")


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

    name: str = choice("none", SCHEDULERS)
    interval: str = choice("epoch", INTERVALS)
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

    name: str = choice("adam", OPTIMIZERS)
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
    loss: str = choice("mean", LOSSES)
    label_smoothing: float = 0.0
    grad_clip: Optional[float] = None  # max global gradient norm
    amp: str = choice("auto", AMP_MODES)  # autocast on CUDA: bf16 when supported, else fp16
    seed: int = 0
    deterministic: bool = False
    device: str = choice("auto", DEVICES)
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
    monitor: Optional[str] = choice(None, MONITORS)


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
        model[key] = convert(value, tp if tp is not list else list[Any], f"{source}: model.{key}")
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
