"""One registry helper for everything looked up by name: models, datasets, surrogates,
neuron kinds, kernels and simulator engines.

A :class:`Registry` maps a key to an entry; entries are registered with a decorator (or
directly), may be *lazy* (``"module:attribute"``, imported on first use, so a reader with an
optional dependency costs nothing until asked for), and an unknown key raises the registry's
error class with the list of valid keys. It imports nothing from snnlab but the errors, so
every layer can use it.

Example::

    MODELS = Registry("model", ConfigError)

    @MODELS.register("mlp_snn")
    def mlp_snn(...): ...

    MODELS.get("mlp_snn")     # the factory; MODELS.get("mlpp") -> ConfigError listing the names
"""

from __future__ import annotations

import importlib
from typing import Any, Generic, Hashable, Iterator, TypeVar

T = TypeVar("T")


class _Lazy:
    """An entry imported on first use: ``target`` is ``"package.module:attribute"``."""

    __slots__ = ("target",)

    def __init__(self, target: str) -> None:
        if ":" not in target:
            raise ValueError(f"lazy registry entry must be 'module:attribute', got {target!r}")
        self.target = target

    def load(self) -> Any:
        module, attr = self.target.split(":", 1)
        return getattr(importlib.import_module(module), attr)


class Registry(Generic[T]):
    """Named entries of one kind (``what`` names it in errors, e.g. ``"model"``).

    Args:
        what: the kind of entry, for error messages ("unknown model 'x'; valid: ...").
        error: exception class raised for unknown keys and double registration.
        listing: the words before the list of valid keys in that message.
        sort: list keys sorted (else in registration order).
    """

    def __init__(
        self, what: str, error: type[Exception] = ValueError, listing: str = "valid", sort: bool = True
    ) -> None:
        self.what = what
        self.error = error
        self.listing = listing
        self.sort = sort
        self._entries: dict[Hashable, Any] = {}

    def register(self, key: Hashable, entry: Any = None, *, replace: bool = False) -> Any:
        """Register ``entry`` under ``key``; without ``entry``, return a decorator that does.

        Registering a different entry twice under one key raises unless ``replace``.
        """
        if entry is None:
            return lambda obj: self.register(key, obj, replace=replace)
        old = self._entries.get(key)
        if old is not None and old is not entry and not replace:
            raise self.error(f"{self.what} {self._show(key)} is registered twice")
        self._entries[key] = entry
        return entry

    def register_lazy(self, key: Hashable, target: str) -> None:
        """Register ``"module:attribute"``, imported by the first :meth:`get` of ``key``."""
        self._entries[key] = _Lazy(target)

    def get(self, key: Hashable) -> T:
        """The entry of ``key``; the registry's error naming the valid keys when there is none."""
        if key not in self._entries:
            raise self.error(f"unknown {self.what} {self._show(key)}; {self.listing}: {', '.join(self.names())}")
        entry = self._entries[key]
        if isinstance(entry, _Lazy):
            entry = self._entries[key] = entry.load()
        return entry

    def find(self, key: Hashable, default: Any = None) -> Any:
        """The entry of ``key`` or ``default`` (no error)."""
        return self.get(key) if key in self._entries else default

    def names(self) -> list[str]:
        """Registered keys as strings (sorted unless the registry keeps registration order)."""
        names = [str(k) if not isinstance(k, tuple) else "/".join(map(str, k)) for k in self._entries]
        return sorted(names) if self.sort else names

    def keys(self) -> list[Hashable]:
        return list(self._entries)

    def values(self) -> list[T]:
        """Entries in registration order (lazy entries are imported)."""
        return [entry for _, entry in self.items()]

    def items(self) -> Iterator[tuple[Hashable, T]]:
        """``(key, entry)`` in registration order (lazy entries are imported)."""
        for key in list(self._entries):
            yield key, self.get(key)

    def __getitem__(self, key: Hashable) -> T:
        return self.get(key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _show(key: Hashable) -> str:
        return repr("/".join(map(str, key))) if isinstance(key, tuple) else repr(key)
