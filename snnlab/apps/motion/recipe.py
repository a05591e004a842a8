"""The motion recipe: typed YAML sections with ``--set key=value`` overrides.

A recipe (``experiments/motion_hd.yaml``) has the sections ``movie`` (see
:class:`snnlab.apps.motion.generator.MovieConfig`), ``data``, ``model``, ``train`` and ``prune``.
Unknown keys, wrong types and out-of-range values raise :class:`snnlab.errors.ConfigError`
naming the field and what is valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from snnlab.apps.motion.generator import MovieConfig, check_movie_config
from snnlab.apps.motion.samples import GATES
from snnlab.errors import ConfigError
from snnlab.recipe import load_typed_recipe, typed_recipe


@dataclass
class DataSection:
    """How many movies each split holds and the seeds that make them."""

    n_train: int = 256
    n_test: int = 64
    seed_train: int = 0
    seed_test: int = 1  # a different seed: test movies never equal training movies
    n_valid: int = 0  # validation movies (0: none); design choices are selected on them, never on test
    seed_valid: int = 2


@dataclass
class ModelSection:
    """HD-SNN layer options (see :class:`snnlab.apps.motion.model.HDSNN`)."""

    kernel_t: int = 12  # delays 0 .. kernel_t - 1, ms
    kernel_xy: int = 9  # odd spatial side, pixels
    cone: bool = False
    polarity_invariant: bool = False
    init_std: float = 0.01
    speed_prior: float = 0.0  # initial class bias from a prior p(speed) ~ speed**-speed_prior (velocity labels)
    gate: str = "events"  # where evidence is trained and read: events | all (see snnlab.apps.motion.samples)


@dataclass
class TrainSection:
    """Adam on the binary cross-entropy at voxels sampled from each batch of movies."""

    epochs: int = 8
    batch: int = 8
    lr: float = 5e-3
    lr_schedule: str = "cosine"  # cosine (decays to 0 over the run) | constant
    l1: float = 0.0  # penalty l1 * sum |K| added to the loss (sparse weights)
    samples_per_movie: int = 1024  # gated voxels drawn per movie and epoch
    seed: int = 0
    warmup: Optional[int] = None  # steps skipped at evaluation (default: kernel_t)
    settle: Optional[int] = None  # steps after a motion change left out of training (default: kernel_t - 1)


@dataclass
class PruneSection:
    """Fractions of synapses kept (largest |w|) and whether to also shorten the delays."""

    fractions: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002])
    shortening: bool = True


@dataclass
class MotionRecipe:
    """A whole motion-detection recipe."""

    name: str = "motion_hd"
    movie: MovieConfig = field(default_factory=MovieConfig)
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    prune: PruneSection = field(default_factory=PruneSection)

    @property
    def warmup(self) -> int:
        """Steps skipped at evaluation (the kernel has not yet seen a full window)."""
        return self.model.kernel_t if self.train.warmup is None else self.train.warmup

    @property
    def settle(self) -> int:
        """Steps after a motion change whose voxels are not trained on (their window mixes two motions)."""
        return self.model.kernel_t - 1 if self.train.settle is None else self.train.settle

    def validate(self) -> None:
        """Value ranges the types alone do not express (called by the typed-recipe loader)."""
        _check_ranges(self)


def _check_ranges(recipe: MotionRecipe) -> None:
    """Value ranges the types alone do not express."""
    check_movie_config(recipe.movie)
    positive = {
        "data.n_train": recipe.data.n_train,
        "data.n_test": recipe.data.n_test,
        "train.epochs": recipe.train.epochs,
        "train.batch": recipe.train.batch,
        "train.lr": recipe.train.lr,
        "model.kernel_t": recipe.model.kernel_t,
        "train.samples_per_movie": recipe.train.samples_per_movie,
    }
    for name, value in positive.items():
        if not value > 0:
            raise ConfigError(f"{name} must be > 0, got {value!r}")
    if recipe.data.n_valid < 0:
        raise ConfigError(f"data.n_valid must be >= 0, got {recipe.data.n_valid!r}")
    seeds = {
        "seed_train": recipe.data.seed_train,
        "seed_valid": recipe.data.seed_valid,
        "seed_test": recipe.data.seed_test,
    }
    if len(set(seeds.values())) < 3:
        raise ConfigError(f"data seeds must differ so that no split repeats another's movies, got {seeds}")
    if recipe.model.speed_prior < 0:
        raise ConfigError(f"model.speed_prior must be >= 0 (0: uniform), got {recipe.model.speed_prior!r}")
    if recipe.model.kernel_xy < 1 or recipe.model.kernel_xy % 2 == 0:
        raise ConfigError(f"model.kernel_xy must be an odd integer >= 1, got {recipe.model.kernel_xy!r}")
    if recipe.model.kernel_t > recipe.movie.n_steps:
        raise ConfigError(
            f"model.kernel_t={recipe.model.kernel_t} exceeds movie.n_steps={recipe.movie.n_steps}; "
            "movies must be at least as long as the kernel"
        )
    if recipe.model.gate not in GATES:
        raise ConfigError(f"model.gate must be one of {list(GATES)}, got {recipe.model.gate!r}")
    if recipe.train.lr_schedule not in ("cosine", "constant"):
        raise ConfigError(f"train.lr_schedule must be 'cosine' or 'constant', got {recipe.train.lr_schedule!r}")
    if not recipe.train.l1 >= 0:
        raise ConfigError(f"train.l1 must be >= 0, got {recipe.train.l1!r}")
    if not 0 <= recipe.settle < recipe.movie.n_steps:
        raise ConfigError(f"train.settle must lie in [0, movie.n_steps={recipe.movie.n_steps}), got {recipe.settle}")
    if not 0 <= recipe.warmup < recipe.movie.n_steps:
        raise ConfigError(f"train.warmup must lie in [0, movie.n_steps={recipe.movie.n_steps}), got {recipe.warmup}")
    bad = [f for f in recipe.prune.fractions if not 0.0 < f <= 1.0]
    if bad or not recipe.prune.fractions:
        raise ConfigError(f"prune.fractions must be a non-empty list of values in (0, 1], got {recipe.prune.fractions}")


def recipe_from_dict(raw: Any, where: str = "recipe") -> MotionRecipe:
    """Typed, validated recipe from a mapping (see :func:`snnlab.recipe.typed_recipe`).

    Raises:
        ConfigError: unknown key, wrong type or bad value, prefixed with ``where``.
    """
    return typed_recipe(MotionRecipe, raw, where)


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> MotionRecipe:
    """Read a YAML recipe, apply ``--set`` overrides (dotted keys) and validate it.

    Raises:
        ConfigError: missing file, invalid YAML or any invalid field.
    """
    return load_typed_recipe(MotionRecipe, path, overrides)
