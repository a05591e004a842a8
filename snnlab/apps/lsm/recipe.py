"""Typed recipes of the liquid-state machine: classification (+ device studies) and zero-shot.

Both load through the one typed-recipe loader (:func:`snnlab.recipe.load_typed_recipe`): field
types and unknown keys are checked against the dataclasses below, then ``validate()`` checks the
reservoir sections against :class:`~snnlab.apps.lsm.reservoir.LSMConfig` and the ranges. A
reservoir section keeps only the keys the recipe names (``{"n_reservoir": 50}``); the others take
``LSMConfig``'s defaults when the reservoir is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from snnlab.apps.lsm.reservoir import LSMConfig
from snnlab.errors import ConfigError
from snnlab.recipe import build_dataclass, read_yaml_recipe, typed_recipe

RETRIEVALS = ("sample", "prototype")


@dataclass
class LSMData:
    """Dataset of a recipe and how its events become reservoir inputs."""

    name: str = "digits"  # digits | nmnist | ntidigits (or any create_dataset name with frames)
    root: Optional[str] = None
    n_time_bins: int = 50
    crop: Optional[int] = None  # centre crop of a 2-D sensor, pixels (N-MNIST: 16)
    merge_polarity: bool = True  # OR the two polarities (256 inputs for 16x16)
    limit: Optional[int] = None  # use only the first N samples of each split (smoke runs)


@dataclass
class Readout:
    """The trainable readout (the only trained part) and its optimiser."""

    hidden: int = 0  # 0 = linear readout
    lr: float = 1e-3
    epochs: int = 100
    batch: int = 100
    seed: int = 0


@dataclass
class StudyConfig:
    """Sweeps of ``snnlab lsm study``: each value builds one RRAM reservoir with that device."""

    g_std_us: list[float] = field(default_factory=lambda: [3.0, 7.5, 15.0, 22.5, 30.0])
    read_noise: list[float] = field(default_factory=lambda: [0.0, 0.02, 0.05, 0.1, 0.2])
    stuck_at: list[float] = field(default_factory=lambda: [0.0, 0.01, 0.05, 0.1, 0.2])  # half HRS, half LRS
    seeds: list[int] = field(default_factory=lambda: [0])  # reservoir seeds averaged per point


def check_lsm_section(values: Any, where: str) -> dict[str, Any]:
    """Type-check a mapping of ``LSMConfig`` fields (all but ``n_inputs``); returns it converted."""
    valid = [k for k in LSMConfig.__dataclass_fields__ if k != "n_inputs"]
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of {valid}, got {values!r}")
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(valid)}")
    cfg = build_dataclass(LSMConfig, {**values, "n_inputs": 1}, where)
    try:
        cfg.validate()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return {k: getattr(cfg, k) for k in values}


@dataclass
class LSMRecipe:
    """A classification recipe: data, reservoir (``LSMConfig`` fields but n_inputs), readout."""

    name: str = "lsm"
    data: LSMData = field(default_factory=LSMData)
    lsm: Optional[dict[str, Any]] = field(default_factory=dict)
    readout: Readout = field(default_factory=Readout)
    study: StudyConfig = field(default_factory=StudyConfig)

    def validate(self) -> None:
        """Type-check the reservoir section; readout sizes."""
        self.lsm = check_lsm_section(self.lsm, "lsm")
        if self.readout.batch < 1 or self.readout.hidden < 0:
            raise ConfigError("readout.batch must be >= 1 and readout.hidden >= 0")


@dataclass
class ZeroShotRecipe:
    """Two frozen encoders (``LSMConfig`` fields per modality), projections, seen/unseen split.

    ``retrieval`` scores the unseen classes: ``sample`` (as the paper does) matches each
    modality-B test sample with the modality-A test sample whose embedding is nearest and counts
    a hit when their classes agree; ``prototype`` matches it with the mean embedding of each
    class (easier: the mean averages the noise of single samples away).
    """

    name: str = "lsm_zeroshot_digits"
    seen: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    unseen: list[int] = field(default_factory=lambda: [8, 9])
    image_lsm: Optional[dict[str, Any]] = field(default_factory=lambda: {"decay": 0.9, "threshold": 5.0, "const": 0.07})
    scan_lsm: Optional[dict[str, Any]] = field(
        default_factory=lambda: {"decay": 0.9, "threshold": 5.0, "const": 0.07, "input_gain": 100.0, "seed": 7}
    )
    hardware: Optional[str] = None
    proj_dim: int = 64
    temperature: float = 1.0
    lr: float = 1e-3
    epochs: int = 100
    steps_per_epoch: int = 20
    seed: int = 0
    image_bins: int = 50
    limit: Optional[int] = None
    retrieval: str = "sample"

    def validate(self) -> None:
        """Raise ConfigError for overlapping or out-of-range classes and bad hyperparameters."""
        self.image_lsm = check_lsm_section(self.image_lsm, "image_lsm")
        self.scan_lsm = check_lsm_section(self.scan_lsm, "scan_lsm")
        if set(self.seen) & set(self.unseen) or not self.seen or len(self.unseen) < 2:
            raise ConfigError(
                f"{self.name}: seen and unseen classes must be disjoint, with >= 2 unseen; "
                f"got seen={self.seen}, unseen={self.unseen}"
            )
        if not all(0 <= c <= 9 for c in self.seen + self.unseen):
            raise ConfigError(f"{self.name}: classes must be digits 0..9")
        if self.temperature <= 0 or self.proj_dim < 1 or self.epochs < 1 or self.steps_per_epoch < 1:
            raise ConfigError(f"{self.name}: need temperature > 0 and proj_dim, epochs, steps_per_epoch >= 1")
        if self.retrieval not in RETRIEVALS:
            raise ConfigError(f"retrieval: '{self.retrieval}' is not valid; valid: {', '.join(RETRIEVALS)}")


def recipe_from_dict(d: Any, where: str = "recipe") -> LSMRecipe:
    """Typed classification recipe from a YAML mapping (see :func:`snnlab.recipe.typed_recipe`)."""
    return typed_recipe(LSMRecipe, d, where)


def zeroshot_from_dict(d: Any, where: str = "recipe") -> ZeroShotRecipe:
    """Typed zero-shot recipe from a YAML mapping (see :func:`snnlab.recipe.typed_recipe`)."""
    return typed_recipe(ZeroShotRecipe, d, where)


def read_recipe(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """A YAML recipe as a mapping with ``--set key=value`` overrides applied, named after its file."""
    raw = read_yaml_recipe(path, overrides)
    raw.setdefault("name", Path(path).stem)
    return raw
