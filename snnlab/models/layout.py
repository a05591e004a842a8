"""The input layout a model declares, and the guard that catches batch-first input.

Every snnlab model is time-major: ``x (T, B, ...)``. A model states it with a class attribute
``input_layout``: :data:`TIME_MAJOR`, or :data:`STATIC_OR_TIME_MAJOR` for image models that also
take a static batch ``(B, C, H, W)`` (``static_rank`` dims) and encode it themselves, or
:data:`STATIC` for a model without a time axis in its input. Data of
one's own (a custom collate, a tonic dataset, an array from elsewhere) often comes batch-first
``(B, T, ...)``; a time-major model would run on it without complaint, mixing samples across steps. The
trainer, ``snnlab eval`` and ``snnlab simulate`` call :func:`check_layout` on the first batch,
whose labels tell the batch size.
"""

from __future__ import annotations

from typing import Any, Sequence

from snnlab.errors import ShapeError

TIME_MAJOR = "time-major"  # (T, B, ...)
STATIC_OR_TIME_MAJOR = "static-or-time-major"  # (B, ...) of `static_rank` dims, or (T, B, ...)
STATIC = "static"  # (B, ...) only: images in, no time axis (the diffusion UNet)
LAYOUTS = (TIME_MAJOR, STATIC_OR_TIME_MAJOR, STATIC)


def declared_layout(model: Any) -> tuple[str | None, int | None]:
    """``(input_layout, static_rank)`` of a model (through a DDP wrapper); None when undeclared."""
    model = getattr(model, "module", model)
    layout = getattr(model, "input_layout", None)
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"{type(model).__name__}.input_layout is {layout!r}; valid: {', '.join(LAYOUTS)}")
    return layout, getattr(model, "static_rank", None)


def check_layout(
    shape: Sequence[int], batch: int, owner: str, layout: str = TIME_MAJOR, static_rank: int | None = None
) -> None:
    """Raise a one-line ShapeError when ``shape`` does not hold ``batch`` samples on dim 1.

    Args:
        shape: the input's shape.
        batch: the number of samples (the length of the labels).
        owner: what takes the input, for the message (a model or a graph).
        layout: :data:`TIME_MAJOR` or :data:`STATIC_OR_TIME_MAJOR`.
        static_rank: dims of a static batch for :data:`STATIC_OR_TIME_MAJOR`.
    """
    shape = tuple(int(s) for s in shape)
    if layout == STATIC:
        if not shape or shape[0] != batch:
            raise ShapeError(f"{owner} takes a static batch (B, ...) input; got {shape} for {batch} samples")
        return
    expected = "time-major (T, B, ...)"
    if layout == STATIC_OR_TIME_MAJOR:
        expected += f" or a static batch (B, ...) of {static_rank} dims"
        if len(shape) == static_rank:
            if shape[0] == batch:
                return
            raise ShapeError(f"{owner} takes {expected} input; got {shape} for a batch of {batch} samples")
    if len(shape) >= 2 and shape[1] == batch:
        return
    if len(shape) >= 2 and shape[0] == batch:
        raise ShapeError(
            f"{owner} takes {expected} input, got {shape} with the {batch} samples on dim 0: batch-first "
            f"(B, T, ...)? transpose it (x.transpose(0, 1)) or collate with snnlab.data.collate_time_major"
        )
    raise ShapeError(f"{owner} takes {expected} input; got {shape} for a batch of {batch} samples")


def check_model_input(model: Any, x: Any, y: Any) -> None:
    """:func:`check_layout` for a model's first batch ``x`` with labels ``y (B,)``; other labels pass."""
    layout, static_rank = declared_layout(model)
    if layout is None or getattr(y, "dim", lambda: 0)() != 1:
        return  # undeclared model, or labels that are not one per sample (language models: (T, B))
    name = type(getattr(model, "module", model)).__name__
    check_layout(tuple(x.shape), int(y.shape[0]), f"model {name}", layout, static_rank)
