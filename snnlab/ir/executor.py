"""A time-major module that evaluates a graph of modules: ``(T, B, ...) -> (T, B, ...)``.

Nodes are ordered by :func:`snnlab.ir.graph.order_nodes` (depth-first from the inputs); an
edge into a node that is still on the search stack closes a cycle and is a *back* (recurrent)
edge, carrying the value of the previous time step (zero at ``t = 0``). Converging edges are summed (NIR semantics).

Without back edges every node runs once on the whole sequence, in topological order. With back
edges the graph runs step by step: stateful nodes are switched to single-step mode for the run.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from snnlab.errors import ShapeError
from snnlab.ir.graph import order_nodes
from snnlab.nn import SpikingNeuron


def _set_step_mode(module: nn.Module, mode: str) -> None:
    for m in module.modules():
        if isinstance(m, SpikingNeuron) or hasattr(m, "history"):
            m.step_mode = mode
            m.reset()


class GraphExecutor(nn.Module):
    """Evaluate named modules wired by edges; ``None`` modules are identities.

    Args:
        modules: node name -> module mapping ``(T, B, ...) -> (T, B, ...)``, or None for identity.
        edges: ``(source, target)`` pairs.
        inputs: names of the input nodes (the forward takes one tensor per input).
        outputs: names of the output nodes (the forward returns a tensor, or a tuple for several).
    """

    def __init__(
        self,
        modules: dict[str, Optional[nn.Module]],
        edges: list[tuple[str, str]],
        inputs: list[str],
        outputs: list[str],
    ) -> None:
        super().__init__()
        self.names = list(modules)
        self.keys = {n: n.replace(".", "_") for n in self.names}
        if len(set(self.keys.values())) != len(self.keys):
            self.keys = {n: f"n{i}_{n.replace('.', '_')}" for i, n in enumerate(self.names)}
        self.nodes = nn.ModuleDict({self.keys[n]: m for n, m in modules.items() if m is not None})
        self.edges, self.inputs, self.outputs = list(edges), list(inputs), list(outputs)
        self.order, self.back = order_nodes(self.names, self.edges, self.inputs)
        self.preds = {n: [a for a, b in self.edges if b == n] for n in self.names}

    def _module(self, name: str) -> Optional[nn.Module]:
        key = self.keys[name]
        return self.nodes[key] if key in self.nodes else None

    def _inputs(self, xs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        if len(xs) != len(self.inputs):
            raise ShapeError(f"GraphExecutor: the graph has inputs {self.inputs}, got {len(xs)} tensors")
        return dict(zip(self.inputs, xs))

    def _evaluate(
        self, feeds: dict[str, torch.Tensor], prev: dict[str, torch.Tensor], wrap: bool
    ) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = {}
        for name in self.order:
            if name in feeds:
                values[name] = feeds[name]
                continue
            parts = [prev.get(a) if (a, name) in self.back else values[a] for a in self.preds[name]]
            parts = [p for p in parts if p is not None]
            x = parts[0] if len(parts) == 1 else torch.stack(parts).sum(0)
            module = self._module(name)
            values[name] = x if module is None else (module(x[None])[0] if wrap else module(x))
        return values

    def forward(self, *xs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """``x (T, B, ...)`` per input -> ``(T, B, ...)`` per output."""
        feeds = self._inputs(xs)
        if not self.back:
            values = self._evaluate(feeds, {}, wrap=False)
            outs = [values[o] for o in self.outputs]
        else:
            outs = self._run_steps(feeds)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _run_steps(self, feeds: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        T = next(iter(feeds.values())).shape[0]
        _set_step_mode(self, "s")
        try:
            prev: dict[str, torch.Tensor] = {}
            steps: list[dict[str, torch.Tensor]] = []
            for t in range(T):
                prev = self._evaluate({k: v[t] for k, v in feeds.items()}, prev, wrap=True)
                steps.append({o: prev[o] for o in self.outputs})
        finally:
            _set_step_mode(self, "m")
        return [torch.stack([s[o] for s in steps]) for o in self.outputs]

    def extra_repr(self) -> str:
        return f"nodes={len(self.names)}, edges={len(self.edges)}, recurrent_edges={sorted(self.back)}"
