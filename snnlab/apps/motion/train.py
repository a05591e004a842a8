"""Training and evaluation of the HD-SNN motion detector on synthetic DVS movies.

Training, on the shared loop (:func:`snnlab.train.fit.fit`): Adam on the binary cross-entropy
(:meth:`HDSNN.loss`) at voxels drawn from each mini-batch of movies: gated (by default where the
sensor has an event) and settled (at least ``settle`` steps after a change of motion, so the past
window holds one motion), evaluated from their past windows instead of a full convolution (about 20x cheaper). The paper's lr 1e-5
(2^10 movies of 200 x 128 x 128, 100 epochs) is for its scale; here lr 5e-3 converges in a few
epochs (the loss is convex in the kernel without the polarity flip).

Evaluation (the paper's decision rule, over gated positions): at each time step the evidence
is averaged over the positions with an event (``gate='events'``; all positions for
``gate='all'``), the bias added and passed through a sigmoid; the predicted class is the
argmax. ``accuracy`` is over every (movie, step) after ``warmup`` steps, ``settled_accuracy``
over those at least ``settle`` steps into their segment; chance is ``1 / n_classes``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snnlab.apps.motion.generator import generate_dataset
from snnlab.apps.motion.model import HDSNN
from snnlab.apps.motion.recipe import MotionRecipe, TrainSection
from snnlab.apps.motion.samples import gate_mask, past_windows, sample_voxels, settled_steps
from snnlab.errors import CheckpointError, ConfigError, ShapeError
from snnlab.results import eval_path, write_results
from snnlab.train.config import OptimizerConfig, SchedulerConfig
from snnlab.train.fit import PermutationSampler, fit

Log = Callable[[str], None]


def class_prior(recipe: MotionRecipe) -> torch.Tensor:
    """Prior probability of each class (C,): speeds weighted by ``speed ** -model.speed_prior``.

    The paper initialises its layer with a prior for slow speeds, as natural scenes have one; it
    gives no formula, so the power law is this implementation's choice. Direction labels mix all
    speeds into each class, so their prior is uniform whatever the exponent.
    """
    movie = recipe.movie
    if movie.label != "velocity":
        return torch.full((movie.n_classes,), 1.0 / movie.n_classes, dtype=torch.float64)
    weight = torch.tensor(movie.speeds, dtype=torch.float64) ** -recipe.model.speed_prior  # (n_speeds,)
    per_class = weight.repeat(movie.n_directions)  # class = direction * n_speeds + speed
    return per_class / per_class.sum()


def build_model(recipe: MotionRecipe) -> HDSNN:
    """The HD-SNN layer a recipe describes, with seeded initial weights and the class prior as bias
    (log-odds ``log(p / (1 - p))``; the uniform prior gives the layer's own default)."""
    torch.manual_seed(recipe.train.seed)
    m = recipe.model
    model = HDSNN(
        recipe.movie.n_classes,
        m.kernel_t,
        m.kernel_xy,
        cone=m.cone,
        polarity_invariant=m.polarity_invariant,
        init_std=m.init_std,
    )
    if m.speed_prior and recipe.movie.label == "velocity":
        p = class_prior(recipe)
        with torch.no_grad():
            model.bias.copy_(torch.log(p / (1.0 - p)))
    return model


SPLITS = ("train", "valid", "test")


def make_split(recipe: MotionRecipe, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Voxels (N, 2, T, H, W) uint8 and labels (N, T) int64 of the ``train``, ``valid`` or ``test`` split.

    Raises:
        ConfigError: an unknown split, or ``valid`` when the recipe has no validation movies.
    """
    data = recipe.data
    sizes = {
        "train": (data.n_train, data.seed_train),
        "valid": (data.n_valid, data.seed_valid),
        "test": (data.n_test, data.seed_test),
    }
    if split not in sizes:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    n, seed = sizes[split]
    if n < 1:
        raise ConfigError("split 'valid': the recipe has no validation movies (set data.n_valid)")
    voxels, labels = generate_dataset(recipe.movie, n, seed)
    return torch.from_numpy(voxels), torch.from_numpy(labels)


class VoxelBatches:
    """Collate function: a batch of movies -> past windows of sampled voxels and their classes.

    Draws with :func:`snnlab.apps.motion.samples.sample_voxels` (gated, at least ``settle`` steps
    into their motion segment, ``per_movie`` per movie) from ``generator``.
    """

    def __init__(
        self, gate: str, settle: int, per_movie: int, kernel_t: int, kernel_xy: int, generator: torch.Generator
    ) -> None:
        self.gate, self.settle, self.per_movie = gate, settle, per_movie
        self.kernel_t, self.kernel_xy, self.generator = kernel_t, kernel_xy, generator

    def __call__(self, items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        movies = torch.stack([v for v, _ in items])  # (B, P, T, H, W)
        steps = torch.stack([y for _, y in items])  # (B, T)
        index = sample_voxels(movies, steps, self.gate, self.settle, self.per_movie, self.generator)  # (M, 4)
        windows = past_windows(movies, index, self.kernel_t, self.kernel_xy)  # (M, P, K_T, K_XY, K_XY)
        return windows, steps[index[:, 0], index[:, 1]]


class WindowLogits(nn.Module):
    """The layer read at sampled voxels: past windows (M, P, K_T, K_XY, K_XY) -> logits (M, C)."""

    def __init__(self, layer: HDSNN) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.layer.window_logits(windows)


class MotionLoss:
    """Per-voxel binary cross-entropy plus ``l1 * sum |K|``, as the shared loop's ``(loss, scores)``.

    A batch without a single sampled voxel contributes the penalty alone.
    """

    def __init__(self, layer: HDSNN, l1: float) -> None:
        self.layer, self.l1 = layer, l1

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss = self.layer.logits_loss(logits, labels) if labels.numel() else logits.sum() * 0.0
        if self.l1:
            loss = loss + self.l1 * self.layer.kernel().abs().sum()
        return loss, logits


def train_model(
    model: HDSNN,
    voxels: torch.Tensor,
    labels: torch.Tensor,
    cfg: TrainSection,
    gate: str = "events",
    settle: int = 0,
    log: Log | None = None,
) -> list[float]:
    """Fit ``model`` with Adam on sampled voxels (the shared loop); returns each epoch's mean loss.

    Each mini-batch of ``cfg.batch`` movies draws ``cfg.samples_per_movie`` voxels per movie
    (:class:`VoxelBatches`: gated, at least ``settle`` steps into their motion segment) and fits
    their logits, computed from their past windows, to the one-hot class of their step;
    ``cfg.l1 * sum |K|`` is added to the loss (and to the recorded loss). The learning rate
    follows a cosine from ``cfg.lr`` to 0 over all steps (``lr_schedule='cosine'``) or stays
    constant. One generator seeded with ``cfg.seed`` draws the movie order and the voxels.

    Args:
        model: the layer, trained in place.
        voxels: (N, P, T, H, W) binary voxels.
        labels: (N, T) class per step.
        cfg: epochs, batch, lr, lr_schedule, l1, samples_per_movie, seed.
        gate: ``events`` or ``all``.
        settle: minimum segment age of a trained voxel.
        log: called with one line per epoch.
    """
    if voxels.shape[0] != labels.shape[0]:
        raise ShapeError(f"{voxels.shape[0]} movies of voxels but {labels.shape[0]} of labels")
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(voxels, labels),
        batch_size=cfg.batch,
        sampler=PermutationSampler(voxels.shape[0], generator),
        collate_fn=VoxelBatches(gate, settle, cfg.samples_per_movie, model.kernel_t, model.kernel_xy, generator),
    )
    schedule = SchedulerConfig(name="cosine" if cfg.lr_schedule == "cosine" else "none", interval="batch")
    history = fit(
        WindowLogits(model),
        loader,
        MotionLoss(model, cfg.l1),
        OptimizerConfig(name="adam", lr=cfg.lr, scheduler=schedule),
        cfg.epochs,
        log,
    )
    return [row["train_loss"] for row in history]


@torch.no_grad()
def predict(model: HDSNN, voxels: torch.Tensor, gate: str = "events", batch: int = 16) -> torch.Tensor:
    """Predicted class per step: argmax_c sigmoid(mean B[c, t, y, x] + beta_c); (N, T).

    The mean runs over the gated positions of step ``t`` (:func:`gate_mask`; a step without
    events then has zero evidence and falls back to the bias).
    """
    out = []
    for start in range(0, voxels.shape[0], batch):
        movies = voxels[start : start + batch].float()
        gated = gate_mask(movies, gate)[:, None].float()  # (B, 1, T, H, W)
        evidence = (model.evidence(movies) * gated).sum(dim=(-2, -1)) / gated.sum(dim=(-2, -1)).clamp(min=1.0)
        prob = torch.sigmoid(evidence + model.bias[:, None])  # (B, C, T)
        out.append(prob.argmax(dim=1))
    return torch.cat(out)


def accuracy(prediction: torch.Tensor, labels: torch.Tensor, warmup: int = 0, settle: int = 0) -> float:
    """Fraction of steps ``t >= warmup`` at least ``settle`` steps into their motion segment whose
    prediction (N, T) equals the label (N, T)."""
    if prediction.shape != labels.shape:
        raise ShapeError(f"predictions {tuple(prediction.shape)} and labels {tuple(labels.shape)} differ in shape")
    counted = settled_steps(labels, warmup, settle)
    hits = (prediction[:, warmup:] == labels[:, warmup:])[counted]
    return float(hits.float().mean()) if hits.numel() else float("nan")


def evaluate(model: HDSNN, voxels: torch.Tensor, labels: torch.Tensor, recipe: MotionRecipe) -> dict[str, float]:
    """Accuracy on a split: ``accuracy`` over every step after the warmup, ``settled_accuracy``
    over those at least ``recipe.settle`` steps into their segment."""
    prediction = predict(model, voxels, recipe.model.gate)
    return {
        "accuracy": accuracy(prediction, labels, recipe.warmup),
        "settled_accuracy": accuracy(prediction, labels, recipe.warmup, recipe.settle),
    }


def save_model(model: HDSNN, recipe: MotionRecipe, path: Path) -> None:
    """Checkpoint with the weights and the recipe, written atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": model.state_dict(), "recipe": json.dumps(asdict(recipe))}, tmp)
    tmp.replace(path)


def load_model(recipe: MotionRecipe, path: Path) -> HDSNN:
    """Load a checkpoint written by :func:`save_model` for the same recipe.

    Raises:
        CheckpointError: unreadable file or one trained with a different model/movie section.
    """
    valid = "valid: a model.pt written by snnlab motion train (a dict with 'state_dict' and 'recipe')"
    if Path(path).is_dir():
        raise CheckpointError(f"{path}: is a folder; {valid}")
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure (or a refused object) is a bad file
        reason = "it holds objects a safe load refuses" if "weights_only" in str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason}); {valid}") from None
    if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict) or "recipe" not in state:
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a motion checkpoint; {valid}")
    try:
        saved = json.loads(state["recipe"])
        assert isinstance(saved, dict)
    except (TypeError, ValueError, AssertionError):
        raise CheckpointError(f"{path}: its 'recipe' entry is not the JSON of a motion recipe; {valid}") from None
    mine = asdict(recipe)
    for section in ("movie", "model"):
        if saved.get(section) != mine[section]:
            raise CheckpointError(
                f"{path}: trained with a different '{section}' section; "
                "train again (snnlab motion train) or use another --out"
            )
    model = build_model(recipe)
    try:
        model.load_state_dict(state["state_dict"])
    except (RuntimeError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path}: the weights do not fit this recipe's model ({' '.join(str(err).split())[:160]})"
        ) from None
    return model


def _split_metrics(
    model: HDSNN, split: str, voxels: torch.Tensor, labels: torch.Tensor, recipe: MotionRecipe
) -> dict[str, float]:
    """``<split>_accuracy`` and ``<split>_settled_accuracy`` of the model on one split."""
    result = evaluate(model, voxels, labels, recipe)
    return {f"{split}_accuracy": result["accuracy"], f"{split}_settled_accuracy": result["settled_accuracy"]}


def run_train(recipe: MotionRecipe, out: Path, log: Log = print) -> dict[str, Any]:
    """Generate the data, train, evaluate, and write ``out/model.pt`` and ``out/eval.json``
    (the results-file rule of :mod:`snnlab.results`).

    The validation movies (``data.n_valid``, when set) are what design choices are compared on;
    the test movies only report. Training accuracy is measured on the first ``n_test`` training
    movies (evaluation runs the full convolution and costs more than a training epoch on small CPUs)."""
    start = time.time()
    train_x, train_y = make_split(recipe, "train")
    test_x, test_y = make_split(recipe, "test")
    log(
        f"data: {len(train_x)} train / {recipe.data.n_valid} valid / {len(test_x)} test movies, "
        f"voxel density {float(train_x.float().mean()):.3f} ({time.time() - start:.0f} s)"
    )
    model = build_model(recipe)
    fit_start = time.time()
    history = train_model(model, train_x, train_y, recipe.train, recipe.model.gate, recipe.settle, log)
    fit_seconds = time.time() - fit_start
    n_check = len(test_x)  # training accuracy on as many training movies as there are test movies
    metrics = _split_metrics(model, "train", train_x[:n_check], train_y[:n_check], recipe)
    if recipe.data.n_valid:
        metrics.update(_split_metrics(model, "valid", *make_split(recipe, "valid"), recipe))
    metrics.update(_split_metrics(model, "test", test_x, test_y, recipe))
    result = {
        "name": recipe.name,
        "n_classes": recipe.movie.n_classes,
        "chance": 1.0 / recipe.movie.n_classes,
        **metrics,
        "loss_history": history,
        "n_synapses": model.n_synapses(),
        "warmup_steps": recipe.warmup,
        "settle_steps": recipe.settle,
        "test_settled_fraction": float(settled_steps(test_y, recipe.warmup, recipe.settle).float().mean()),
        "fit_seconds": fit_seconds,
        "seconds": time.time() - start,
    }
    save_model(model, recipe, out / "model.pt")
    write_results(eval_path(out), result)
    write_config(out, recipe)
    return result


def write_config(out: Path, recipe: MotionRecipe) -> None:
    """Write the resolved recipe as ``out/config.yaml``."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(recipe), sort_keys=False))
