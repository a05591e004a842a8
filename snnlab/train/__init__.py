"""Training: the loop, losses, optimisers/schedules, resumable checkpoints, logging and DDP.

Entry points::

    from snnlab.train.config import load_config
    from snnlab.train import Trainer, load_run
    summary = Trainer(load_config("experiments/demo_digits.yaml")).fit()
    run = load_run("runs/demo_digits")          # model with best.pt weights, eval mode
"""

from snnlab.train.checkpoint import atomic_save, load_checkpoint
from snnlab.train.losses import OutputLoss
from snnlab.train.model_io import LoadedRun, build_model, load_run, resolve_model_config
from snnlab.train.optim import OptimizerSet
from snnlab.train.trainer import Trainer, resolve_device, seed_everything

__all__ = [
    "LoadedRun",
    "OptimizerSet",
    "OutputLoss",
    "Trainer",
    "atomic_save",
    "build_model",
    "load_checkpoint",
    "load_run",
    "resolve_device",
    "resolve_model_config",
    "seed_everything",
]
