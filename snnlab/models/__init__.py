"""Model families, one per file, behind one registry: ``create_model(name, **cfg)``.

- ``mlp_snn``: spiking MLP (SHD baseline, the demo), :mod:`snnlab.models.mlp`.
- ``conv_snn``: convolutional SNN for event cameras (N-MNIST), :mod:`snnlab.models.conv`.
- ``spiking_resnet``: MS-ResNet with direct encoding (CIFAR), :mod:`snnlab.models.resnet`.

Models map time-major input ``(T, B, ...)`` to per-step outputs ``(T, B, classes)``.
"""
from snnlab.models import conv, mlp, resnet  # noqa: F401  (families register themselves)
from snnlab.models.common import NeuronSpec, spiking_layers
from snnlab.models.registry import create_model, list_models, model_defaults, register_model

__all__ = ["NeuronSpec", "create_model", "list_models", "model_defaults", "register_model", "spiking_layers"]
