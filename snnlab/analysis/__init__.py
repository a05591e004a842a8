"""Activity analysis: per-layer operation counts, NeuroBench metrics, plots and reports.

:func:`profile_model` (forward hooks) measures an :class:`snnlab.ir.activity.ActivityProfile`
(the profile lives in ir, beside the graph, so that sim and hw read it without analysis); it
imports torch on use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MatMul", "profile_model"]


def __getattr__(name: str) -> Any:
    if name == "profile_model":
        from snnlab.analysis.hooks import profile_model

        return profile_model
    if name == "MatMul":
        from snnlab.analysis.ops import MatMul

        return MatMul
    raise AttributeError(f"module 'snnlab.analysis' has no attribute {name!r}")
