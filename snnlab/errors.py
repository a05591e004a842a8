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


class TrainingError(SnnlabError):
    """Training cannot go on (a non-finite loss): the run stops before writing a checkpoint."""


def one_line(err: BaseException | str) -> str:
    """The message of ``err`` on one line (newlines and runs of spaces collapsed)."""
    return " ".join(str(err).split())


def user_message(err: BaseException) -> str:
    """One line for the CLI: the message of ``err``, unwrapped from a DataLoader worker's report.

    A worker that raises re-raises in the main process as ``"Caught DataError in DataLoader
    worker process 0. Original Traceback ..."``: the original last line is the user's message.
    """
    text = str(err)
    if "Original Traceback" in text:
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        text = last.split(": ", 1)[1] if last.split(": ", 1)[0].endswith(("Error", "Exception")) else last
    return one_line(text)


def os_error_message(err: OSError) -> str:
    """``permission denied: runs/x/config.yaml (...)``: a filesystem fault on one line with what to do."""
    import errno

    name = err.filename if err.filename is not None else ""
    hints = {
        errno.EACCES: "make it writable or choose another folder (--out / run.out_dir / data.root)",
        errno.EPERM: "make it writable or choose another folder (--out / run.out_dir / data.root)",
        errno.EROFS: "the filesystem is read-only; choose a writable folder (--out / run.out_dir)",
        errno.ENOSPC: "the disk is full; free space or choose another folder (--out / run.out_dir)",
        errno.EISDIR: "it is a folder; give a file path",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.ENOENT: "no such file or folder",
        errno.EEXIST: "it exists already; choose another path",
    }
    reason = (err.strerror or type(err).__name__).lower()
    hint = hints.get(err.errno, "check the path")
    return one_line(f"{reason}: {name} ({hint})" if name else f"{reason} ({hint})")
