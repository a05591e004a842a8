"""The start-of-run line names the kernel backend the model's spiking modules really use."""

from __future__ import annotations

import torch
from torch import nn

from snnlab.kernels.registry import availability
from snnlab.models import create_model
from snnlab.train.setup import _kernel_backends

CPU = torch.device("cpu")


def test_default_backend_is_resolved_not_reported_as_none() -> None:
    model = create_model("mlp_snn", in_features=8, hidden=[4], num_classes=2)
    expected = "numba" if availability("numba")[0] else "torch"
    assert _kernel_backends(model, CPU) == f"auto -> {expected}"


def test_explicit_backend_and_no_spiking_modules() -> None:
    assert (
        _kernel_backends(create_model("mlp_snn", in_features=8, hidden=[4], num_classes=2, backend="torch"), CPU)
        == "torch"
    )
    assert _kernel_backends(nn.Sequential(nn.Linear(2, 2)), CPU) == "none (no spiking kernels)"
