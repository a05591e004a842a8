"""Activity analysis: per-layer operation counts, NeuroBench metrics, plots and reports.

``ActivityProfile`` is torch-free; :func:`profile_model` (forward hooks) imports torch on use.
"""

from __future__ import annotations

from typing import Any

from snnlab.ir.activity import LAYER_KINDS, ActivityProfile, LayerActivity

__all__ = ["LAYER_KINDS", "ActivityProfile", "LayerActivity", "MatMul", "profile_model"]


def __getattr__(name: str) -> Any:
    if name == "profile_model":
        from snnlab.analysis.hooks import profile_model

        return profile_model
    if name == "MatMul":
        from snnlab.analysis.ops import MatMul

        return MatMul
    raise AttributeError(f"module 'snnlab.analysis' has no attribute {name!r}")
