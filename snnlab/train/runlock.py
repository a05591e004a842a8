"""One run per folder: an advisory lock file ``<run>/.lock`` holding the owner's pid.

Two ``snnlab train`` processes writing the same run folder would leave a mix of both (the
config of one, the checkpoints of the other). The trainer therefore holds ``.lock`` for the
whole run: an exclusive ``flock`` on the open file, with the owner's pid, host and start time
written inside so that a second run can say who holds it. The kernel drops the ``flock`` when
the owner dies, so the lock of a killed run (SIGKILL, power loss of a container) is detected
as stale and taken over with a note, never left to block the folder forever.

The same process may take the lock of a folder it already holds (a resumed ``Trainer`` after
``fit(max_epochs=...)`` in one Python session); that only counts up.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, Optional

from snnlab.errors import ConfigError

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
_HELD: dict[str, list[int]] = {}  # resolved lock path -> [fd, count] held by this process


class RunLockedError(ConfigError):
    """The run folder is in use by another live process."""


def _owner(text: str) -> dict:
    try:
        info = json.loads(text)
        return info if isinstance(info, dict) else {}
    except ValueError:
        return {}


def _describe(info: dict) -> str:
    pid = info.get("pid", "?")
    host = info.get("host")
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {pid}" + (f" on {host}" if host else "") + f", started {when}"


def _try_lock(path: Path) -> tuple[Optional[int], str]:
    """Open ``path`` and take its flock without waiting: (fd or None when held elsewhere, old content)."""
    for _ in range(5):  # retry when the holder unlinked the file between our open and our flock
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 4096).decode("utf-8", "replace")
            os.close(fd)
            return None, text
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, os.read(fd, 4096).decode("utf-8", "replace")
        os.close(fd)
    raise ConfigError(f"{path}: the lock file keeps changing; is another run starting in this folder?")


def acquire(run_dir: str | Path, log: Callable[[str], None] = print) -> Path:
    """Take ``run_dir/.lock`` for this process (creating ``run_dir``); returns the lock path.

    Raises:
        RunLockedError: another live process holds the folder (its pid is named).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        return path
    if fcntl is None:  # pragma: no cover
        return path
    fd, previous = _try_lock(path)
    if fd is None:
        raise RunLockedError(
            f"{run_dir} is in use by another run ({_describe(_owner(previous))}; lock file "
            f"{path}); wait for it to finish or train into another folder with --set run.name=NEW"
        )
    old = _owner(previous)
    if old.get("pid") not in (None, os.getpid()):
        log(f"note: {path} was left by a run that is no longer running ({_describe(old)}); taking it over")
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    _HELD[key] = [fd, 1]
    return path


def release(path: str | Path) -> None:
    """Give back one hold of the lock; the last one removes the file and drops the flock."""
    key = str(Path(path).resolve())
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _HELD[key]
    try:
        Path(path).unlink(missing_ok=True)
    finally:
        os.close(held[0])  # closing drops the flock
