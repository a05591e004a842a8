"""The neuron-kind records: every list of kinds derives from them, and each record is complete."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from snnlab import nn as snn
from snnlab.functional import KINDS
from snnlab.kernels import BACKENDS, availability, has_kernel
from snnlab.kernels.common import equations as kernel_eq

NAMES = sorted(KINDS)


@pytest.mark.parametrize("name", NAMES)
def test_module_class_wraps_the_kind_with_the_params_fields(name):
    kind = KINDS.get(name)
    cls = snn.neuron_class(name)
    assert cls.__name__ == kind.module and cls.kind == name and getattr(snn, kind.module) is cls
    assert cls.is_spiking_neuron == kind.spiking
    args = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kw", "surrogate")]
    assert args == [f.name for f in dataclasses.fields(kind.params)]


@pytest.mark.parametrize("name", NAMES)
def test_every_backend_and_kernel_family_serves_the_kind(name):
    assert kernel_eq.family_of(name).name == KINDS.get(name).family
    for backend in BACKENDS:  # cuda runs here only under the CUDA simulator
        if availability(backend)[0]:
            assert has_kernel(f"neuron.{name}", backend), backend


@pytest.mark.parametrize("name", NAMES)
def test_nir_node_has_an_exporter_and_an_importer(name):
    from snnlab.ir import neurons

    node = KINDS.get(name).nir_node
    assert (name in neurons._EXPORTERS) == (node is not None)
    if node is not None:
        assert node in neurons.NEURON_NODES and node in neurons._IMPORTERS


def test_rest_state_matches_the_state_fields():
    for name in NAMES:
        kind = KINDS.get(name)
        assert len(kind.rest(kind.params())) == len(kind.state._fields) and kind.state._fields[0] == "v"


def test_unknown_kind_names_the_valid_ones():
    from snnlab.functional import initial_state

    with pytest.raises(ValueError, match="unknown neuron kind 'nope'; valid: alif, cuba_lif, if, li, lif"):
        initial_state("nope", None, None)
