"""Checks of command-line values shared by the commands; each failure is one ConfigError line.

They run before any work starts, so a bad flag never leaves a half-written output behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from snnlab.errors import CheckpointError, ConfigError, DataError, one_line


def positive_int(value: Optional[int], flag: str) -> Optional[int]:
    """``value`` when None or >= 1."""
    if value is not None and value < 1:
        raise ConfigError(f"{flag}: {value} is not valid; valid: an integer >= 1")
    return value


def output_file(path: Optional[str], flag: str, example: str) -> Optional[Path]:
    """A file to write: not a folder, and its parent (if present) is a folder."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; valid: a file path, e.g. {example}")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"{flag} {path}: {parent} is a file, not a folder; valid: a path inside a folder")
    return out


def output_dir(path: Optional[str], flag: str) -> Optional[Path]:
    """A folder to write into (created later): not an existing file, nor under one."""
    if path is None:
        return None
    out = Path(path)
    blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{flag} {path}: {blocker} is a file; valid: a folder (created when absent)")
    return out


def input_file(path: Optional[str], flag: str, what: str) -> Optional[Path]:
    """An existing file to read."""
    if path is None:
        return None
    src = Path(path)
    if src.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder; valid: {what}")
    if not src.is_file():
        raise ConfigError(f"{flag} {path}: no such file; valid: {what}")
    return src


def torch_device(name: str, flag: str = "--device") -> Any:
    """``cpu``, ``cuda`` or ``cuda:N`` as a torch.device, refused when it cannot run here."""
    import torch

    text = str(name).strip().lower()
    if text != "cpu" and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise ConfigError(f"{flag}: '{name}' is not valid; valid: cpu, cuda, cuda:N")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{flag}: '{name}' requested but no CUDA device is available here; valid here: cpu")
        index = int(text[5:]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"{flag}: '{name}': this machine has {torch.cuda.device_count()} CUDA device(s); "
                f"valid: cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
    return torch.device(text)


def read_npz(path: Path, what: str) -> dict[str, Any]:
    """Arrays of an ``.npz`` file, never unpickling; every fault is one DataError naming the file."""
    import zipfile

    import numpy as np

    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic[:1] == b"\x80":
        raise DataError(f"{path}: a Python pickle, which is never loaded (it could run code); valid: {what}")
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        raise DataError(f"{path}: not an .npz archive (it starts with {magic!r}); valid: {what}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise DataError(f"{path}: holds a single array, not an .npz archive; valid: {what}")
            return {k: data[k] for k in data.files}
    except DataError:
        raise
    except ValueError as err:
        reason = "it holds pickled objects, which are never loaded" if "pickle" in str(err) else one_line(err)
        raise DataError(f"{path}: not readable ({reason}); valid: {what}") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise DataError(
            f"{path}: not an .npz archive ({type(err).__name__}: {one_line(err)[:120]}); valid: {what}"
        ) from None


__all__ = ["CheckpointError", "input_file", "output_dir", "output_file", "positive_int", "read_npz", "torch_device"]
