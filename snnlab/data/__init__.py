"""Datasets, event transforms and caches.

Entry point: ``create_dataset(name, root, split, **cfg)`` (names in :data:`DATASETS`). Items
are ``(x (T, ...), y)``; batch them with :func:`collate_time_major` into ``(T, B, ...)``.
"""

from __future__ import annotations

from snnlab.data.adapters import from_tonic
from snnlab.data.augment import (
    ChannelMask,
    DirectEncode,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TimeMask,
)
from snnlab.data.base import EventFrameDataset
from snnlab.data.collate import collate_static, collate_time_major, pad_collate
from snnlab.data.events import EVENT_DTYPE, EventStore, make_events
from snnlab.data.registry import DATASETS, create_dataset, register_dataset
from snnlab.data.transforms import (
    CenterCrop,
    Compose,
    Crop,
    Denoise,
    Downsample,
    RefractoryFilter,
    ToFrame,
)

__all__ = [
    "DATASETS",
    "register_dataset",
    "EVENT_DTYPE",
    "CenterCrop",
    "ChannelMask",
    "Compose",
    "Crop",
    "Denoise",
    "DirectEncode",
    "Downsample",
    "EventFrameDataset",
    "EventStore",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RefractoryFilter",
    "TimeMask",
    "ToFrame",
    "collate_static",
    "collate_time_major",
    "create_dataset",
    "from_tonic",
    "make_events",
    "pad_collate",
]
