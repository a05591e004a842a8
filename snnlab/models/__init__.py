"""Model families, one per file, behind one registry: ``create_model(name, **cfg)``.

- ``mlp_snn``: spiking MLP (SHD baseline, the demo), :mod:`snnlab.models.mlp`.
- ``conv_snn``: convolutional SNN for event cameras (N-MNIST), :mod:`snnlab.models.conv`.
- ``spiking_resnet``: MS-ResNet with direct encoding (CIFAR), :mod:`snnlab.models.resnet`.
- ``maxformer`` (+ ``maxformer_cifar``, ``maxformer_10_384/512/768``, ``maxformer_dvs``): Max-Former,
  :mod:`snnlab.models.maxformer`; ``max_resnet18``: Max-ResNet, :mod:`snnlab.models.max_resnet`.

Every module of this package is imported here, so a family registers itself by living in
``snnlab/models/<family>.py`` and decorating its class with ``@register_model("name")``.
Models map time-major input ``(T, B, ...)`` to per-step outputs ``(T, B, classes)``.
"""

import importlib
import pkgutil

from snnlab.models.common import NeuronSpec
from snnlab.models.registry import create_model, list_models, model_defaults, register_model

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["NeuronSpec", "create_model", "list_models", "model_defaults", "register_model"]
