"""Exceptions for user input. The CLI prints their message as one line, without a traceback.

Every error names what was wrong (file, field, shape) and what is valid.
"""
from __future__ import annotations


class SnnlabError(ValueError):
    """Base class of every user-facing error in snnlab."""


class ConfigError(SnnlabError):
    """A configuration file or override is invalid (unknown key, wrong type, bad value)."""


class DataError(SnnlabError):
    """A dataset file is missing, truncated or malformed."""


class ShapeError(SnnlabError):
    """A tensor has the wrong rank, shape, dtype or device."""


class BackendError(SnnlabError):
    """An explicitly requested backend cannot run here."""


class ProfileError(SnnlabError):
    """A hardware profile is missing fields or holds impossible values."""


class MappingError(SnnlabError):
    """A network does not fit the hardware it is mapped onto."""


class GraphError(SnnlabError):
    """A NIR graph holds unsupported nodes or inconsistent shapes."""


class CheckpointError(SnnlabError):
    """A checkpoint or run folder is missing or unreadable."""
