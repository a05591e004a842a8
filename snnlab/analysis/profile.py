"""The activity profile, under its analysis name: defined in :mod:`snnlab.ir.activity`.

The profile is the data contract between what measures activity (:mod:`snnlab.analysis`,
:mod:`snnlab.sim`) and what prices it (:mod:`snnlab.hw`); it lives beside the flattened graph
so that sim and hw read it without importing analysis.
"""

from snnlab.ir.activity import LAYER_KINDS, ActivityProfile, LayerActivity

__all__ = ["LAYER_KINDS", "ActivityProfile", "LayerActivity"]
