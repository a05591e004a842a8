"""Neurons between snnlab modules (parameters in steps) and NIR nodes (seconds).

Export follows the project's NIR conventions: ``tau_s = tau * dt``; ``decay_input=False``
writes ``r = tau`` (steps); soft reset writes ``v_reset = v_leak = 0`` and
``metadata["reset_mode"] = "subtract"``; IF writes ``r = 1 / dt``; a LIF whose threshold is
infinite or >= 1e9 (a readout) becomes ``nir.LI``. Import inverts every rule; a general ``r``
becomes an input gain in front of the neuron (forward Euler: ``dt/tau_s * r * x``).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import nir
import numpy as np
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.errors import GraphError
from snnlab.functional.neuron import KINDS

READOUT_THRESHOLD = 1e9  # a LIF at or above this threshold never fires: exported as LI
NEURON_NODES = tuple(kind.nir_node for _, kind in KINDS.items() if kind.nir_node)  # from the neuron records


# ----------------------------------------------------------------------------- export
def _full(shape: tuple[int, ...], value: float) -> np.ndarray:
    return np.full(shape, float(value), dtype=np.float64)


def _reset_fields(v_reset: Optional[float]) -> tuple[float, dict[str, Any]]:
    """Node ``v_reset`` and metadata for snnlab's ``v_reset`` (None = soft reset)."""
    if v_reset is None:
        return 0.0, {"reset_mode": "subtract"}
    return float(v_reset), {"reset_mode": "zero"}


def _training_metadata(module: snn.SpikingNeuron) -> dict[str, Any]:
    meta: dict[str, Any] = {"snnlab.module": type(module).__name__}
    if getattr(module.params, "detach_reset", False):
        meta["detach_reset"] = True
    if module.surrogate is not None:
        meta["surrogate"] = module.surrogate.name
        meta["surrogate_alpha"] = float(module.surrogate.alpha)
    return meta


def _lif_node(module: snn.LIF, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    p = module.params
    tau = module.tau if isinstance(module, snn.PLIF) else float(p.tau)
    meta = _training_metadata(module)
    if isinstance(module, snn.PLIF):
        meta["snnlab.plif_w"] = float(module.w.detach())
    r = 1.0 if p.decay_input else tau
    if math.isinf(p.v_threshold) or p.v_threshold >= READOUT_THRESHOLD:
        meta["snnlab.v_threshold"] = float(p.v_threshold)
        rest = 0.0 if p.v_reset is None else float(p.v_reset)
        return nir.LI(tau=_full(shape, tau * dt), r=_full(shape, r), v_leak=_full(shape, rest), metadata=meta)
    v_reset, reset_meta = _reset_fields(p.v_reset)
    meta.update(reset_meta)
    return nir.LIF(
        tau=_full(shape, tau * dt),
        r=_full(shape, r),
        v_leak=_full(shape, v_reset),
        v_threshold=_full(shape, p.v_threshold),
        v_reset=_full(shape, v_reset),
        metadata=meta,
    )


def _cuba_node(module: snn.CubaLIF, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    p = module.params
    v_reset, meta = _reset_fields(p.v_reset)
    meta.update(_training_metadata(module))
    return nir.CubaLIF(
        tau_syn=_full(shape, p.tau_syn * dt),
        tau_mem=_full(shape, p.tau_mem * dt),
        r=_full(shape, p.r),
        v_leak=_full(shape, p.v_leak),
        v_threshold=_full(shape, p.v_threshold),
        v_reset=_full(shape, v_reset),
        w_in=_full(shape, p.w_in),
        metadata=meta,
    )


def _if_node(module: snn.IF, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    v_reset, meta = _reset_fields(module.params.v_reset)
    meta.update(_training_metadata(module))
    return nir.IF(
        r=_full(shape, 1.0 / dt),
        v_threshold=_full(shape, module.params.v_threshold),
        v_reset=_full(shape, v_reset),
        metadata=meta,
    )


def _li_node(module: snn.LI, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    p = module.params
    r = 1.0 if p.decay_input else p.tau
    return nir.LI(
        tau=_full(shape, p.tau * dt),
        r=_full(shape, r),
        v_leak=_full(shape, p.v_reset),
        metadata={"snnlab.module": "LI"},
    )


_EXPORTERS = {"if": _if_node, "lif": _lif_node, "cuba_lif": _cuba_node, "li": _li_node}  # by neuron kind


def neuron_to_node(module: nn.Module, shape: tuple[int, ...], dt: float, name: str) -> nir.NIRNode:
    """The NIR node of a snnlab neuron whose per-sample shape is ``shape``.

    Raises:
        GraphError: for a neuron NIR cannot express (ALIF's adaptive threshold).
    """
    kind = getattr(module, "kind", "")
    if kind not in _EXPORTERS:
        exportable = sorted({KINDS.get(k).module for k in _EXPORTERS} | {"PLIF"})
        raise GraphError(
            f"layer {name!r}: neuron {type(module).__name__} has no NIR node "
            f"(exportable neurons: {', '.join(exportable)})"
        )
    return _EXPORTERS[kind](module, shape, dt)


# ----------------------------------------------------------------------------- import
class InputGain(nn.Module):
    """Multiply the input by a constant per-sample gain: ``(T, B, ...) -> (T, B, ...)``."""

    def __init__(self, gain: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("gain", torch.as_tensor(np.asarray(gain, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


def uniform(node: Any, name: str, field: str) -> float:
    """The single value of a per-neuron field; GraphError when neurons differ."""
    values = np.unique(np.asarray(getattr(node, field), dtype=np.float64))
    if values.size != 1:
        raise GraphError(
            f"node {name!r}: field {field} differs between neurons ({values.size} values); "
            f"snnlab neurons take one value per layer"
        )
    return float(values[0])


def to_steps(seconds: float, dt: float) -> float:
    """``seconds / dt``, snapped to 10 significant digits when within 1e-12 (undoes float noise)."""
    steps = seconds / dt
    snapped = float(f"{steps:.10g}")
    return snapped if abs(snapped - steps) <= 1e-12 * abs(steps) else steps


def _soft(node: Any, name: str) -> bool:
    mode = str((node.metadata or {}).get("reset_mode", "zero"))
    if mode not in ("zero", "subtract"):
        raise GraphError(f"node {name!r}: metadata reset_mode {mode!r} is not valid; use 'zero' or 'subtract'")
    return mode == "subtract"


def _tau_steps(node: Any, name: str, field: str, dt: float) -> float:
    tau = to_steps(uniform(node, name, field), dt)
    if not tau >= 1.0:
        raise GraphError(
            f"node {name!r}: field {field} is {tau * dt} s < dt={dt} s; forward Euler needs "
            f"tau >= dt (pass a smaller dt)"
        )
    return tau


def _with_gain(gain: float, neuron: nn.Module) -> nn.Module:
    if gain == 1.0:
        return neuron
    return nn.Sequential(InputGain(np.float32(gain)), neuron)


def _lif_module(node: nir.LIF, name: str, dt: float) -> nn.Module:
    tau, r = _tau_steps(node, name, "tau", dt), uniform(node, name, "r")
    v_leak, v_reset, thr = (uniform(node, name, f) for f in ("v_leak", "v_reset", "v_threshold"))
    soft = _soft(node, name)
    if (soft and v_leak != 0.0) or (not soft and v_leak != v_reset):
        want = "0 (soft reset)" if soft else f"v_reset={v_reset}"
        raise GraphError(f"node {name!r}: field v_leak={v_leak} must equal {want} for a snnlab LIF")
    decay_input = not (r != 1.0 and math.isclose(r, tau, rel_tol=1e-6))
    meta = node.metadata or {}
    kw = dict(
        v_threshold=thr,
        v_reset=None if soft else v_reset,
        decay_input=decay_input,
        detach_reset=bool(meta.get("detach_reset", False)),
        surrogate=_surrogate(meta),
    )
    if "snnlab.plif_w" in meta and meta.get("snnlab.module") == "PLIF":
        neuron = snn.PLIF(init_tau=tau, **kw)
        with torch.no_grad():
            neuron.w.fill_(float(meta["snnlab.plif_w"]))
    else:
        neuron = snn.LIF(tau=tau, **kw)
    return _with_gain(r if decay_input else 1.0, neuron)


def _li_module(node: nir.LI, name: str, dt: float) -> nn.Module:
    tau, r, v_leak = _tau_steps(node, name, "tau", dt), uniform(node, name, "r"), uniform(node, name, "v_leak")
    decay_input = not (r != 1.0 and math.isclose(r, tau, rel_tol=1e-6))
    meta = node.metadata or {}
    if "snnlab.v_threshold" in meta:  # an exported readout LIF: rebuild it exactly
        neuron: nn.Module = snn.LIF(
            tau=tau,
            v_threshold=float(meta["snnlab.v_threshold"]),
            v_reset=v_leak,
            decay_input=decay_input,
            surrogate=_surrogate(meta),
        )
    else:
        neuron = snn.LI(tau=tau, v_reset=v_leak, decay_input=decay_input)
    return _with_gain(r if decay_input else 1.0, neuron)


def _if_module(node: nir.IF, name: str, dt: float) -> nn.Module:
    gain = uniform(node, name, "r") * dt
    gain = float(f"{gain:.10g}") if math.isclose(gain, round(gain, 9), rel_tol=1e-12) else gain
    soft = _soft(node, name)
    meta = node.metadata or {}
    neuron = snn.IF(
        v_threshold=uniform(node, name, "v_threshold"),
        v_reset=None if soft else uniform(node, name, "v_reset"),
        detach_reset=bool(meta.get("detach_reset", False)),
        surrogate=_surrogate(meta),
    )
    return _with_gain(gain, neuron)


def _cuba_module(node: nir.CubaLIF, name: str, dt: float) -> nn.Module:
    soft = _soft(node, name)
    meta = node.metadata or {}
    return snn.CubaLIF(
        tau_syn=_tau_steps(node, name, "tau_syn", dt),
        tau_mem=_tau_steps(node, name, "tau_mem", dt),
        r=uniform(node, name, "r"),
        v_leak=uniform(node, name, "v_leak"),
        w_in=uniform(node, name, "w_in"),
        v_threshold=uniform(node, name, "v_threshold"),
        v_reset=None if soft else uniform(node, name, "v_reset"),
        detach_reset=bool(meta.get("detach_reset", False)),
        surrogate=_surrogate(meta),
    )


def _surrogate(meta: dict[str, Any]) -> Any:
    """The training surrogate recorded in node metadata, or None (the library default)."""
    if "surrogate" not in meta:
        return None
    from snnlab.functional.surrogate import get_surrogate

    try:
        return get_surrogate({"name": str(meta["surrogate"]), "alpha": float(meta.get("surrogate_alpha", 2.0))})
    except (ValueError, TypeError, KeyError):
        return None


_IMPORTERS = {"LIF": _lif_module, "LI": _li_module, "IF": _if_module, "CubaLIF": _cuba_module}


def node_to_neuron(node: nir.NIRNode, name: str, dt: float) -> nn.Module:
    """A time-major snnlab neuron module (possibly behind an :class:`InputGain`) for a NIR neuron node."""
    return _IMPORTERS[type(node).__name__](node, name, dt)
