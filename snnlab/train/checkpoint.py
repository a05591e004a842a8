"""Checkpoints: atomic writes, ``weights_only`` loads, and the random state of a run.

A checkpoint is a dict of tensors and primitive containers only (no pickled objects), so it
loads with ``torch.load(weights_only=True)``::

    {"format": 1, "epoch": int, "model": state_dict, "optim": {"optimizers": [...],
     "schedulers": [...]}, "scaler": dict, "rng": {...}, "best": float, "best_epoch": int,
     "history": [ {metric: float} per epoch ], "config": nested dict}

Writes go to a temporary file in the same folder, are flushed and fsynced, then moved over
the target with :func:`os.replace`, so a process killed at any moment leaves either the old
or the new file, never a torn one.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from snnlab.errors import CheckpointError, one_line

FORMAT = 1
TMP_PREFIX = ".tmp-"


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically (temp file + fsync + rename + directory fsync)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    os.close(fd)  # reopened by name, so the handle names its file
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # a full disk reaches torch's zip writer as RuntimeError
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(_write_failure(path, err)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_failure(path: Path, err: BaseException) -> str:
    """``could not write runs/x/checkpoints/last.pt (no space left on device; 0 MB free there) ...``."""
    import shutil

    reason = (err.strerror if isinstance(err, OSError) and err.strerror else one_line(err)[:160]).lower()
    try:
        free = f"; {shutil.disk_usage(path.parent).free / 2**20:.0f} MB free there"
    except OSError:
        free = ""
    return (
        f"could not write {path} ({reason}{free}); the previous {path.name} is untouched: free space or "
        "fix the folder, then continue with --resume"
    )


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def remove_stale_temps(folder: str | Path) -> None:
    """Delete temporary files left by a process killed during a write."""
    for tmp in Path(folder).glob(TMP_PREFIX + "*"):
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU.

    Raises:
        CheckpointError: the file is missing, unreadable or not an snnlab checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file; valid: a .pt file written by snnlab train")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: not a readable checkpoint ({_load_reason(err)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "model" not in ckpt:
        raise CheckpointError(f"{path}: not an snnlab checkpoint (format {FORMAT} with a 'model' entry)")
    return ckpt


def _load_reason(err: BaseException) -> str:
    """Why ``torch.load`` failed, in one line, without torch's advice to load with ``weights_only=False``
    (that would execute code from the file)."""
    text = str(err)
    if "weights_only" in text or "Unsupported global" in text or "WeightsUnpickler" in text:
        return (
            "it holds pickled Python objects that a safe load refuses (snnlab never executes code "
            "from a checkpoint); valid: a checkpoint written by snnlab train"
        )
    return f"{type(err).__name__}: {one_line(text)[:200]}"


RESUME_KEYS = {
    "epoch": int,
    "best": (int, float),
    "best_epoch": int,
    "history": list,
    "rng": dict,
    "optim": dict,
    "model": dict,
}


def check_resume_state(state: dict[str, Any], path: str | Path) -> None:
    """The entries a resume needs, with their types (the ``model`` entry is checked by the model).

    Raises:
        CheckpointError: a missing entry or one of the wrong type, naming it.
    """
    for key, tp in RESUME_KEYS.items():
        if key not in state:
            raise CheckpointError(
                f"{path}: no '{key}' entry, so it cannot be resumed (valid: a last.pt written by "
                "snnlab train); start over with --force"
            )
        if not isinstance(state[key], tp) or isinstance(state[key], bool):
            raise CheckpointError(
                f"{path}: '{key}' is a {type(state[key]).__name__}, expected "
                f"{getattr(tp, '__name__', 'a number')}; start over with --force"
            )


def load_resume_state(ckpt_dir: Path, log: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """The checkpoint to resume from: ``last.pt``, or ``best.pt`` (with a note) when last.pt is damaged.

    Raises:
        CheckpointError: no checkpoint yet (nothing to resume), or neither file is readable.
    """
    last, best = ckpt_dir / "last.pt", ckpt_dir / "best.pt"
    if not last.exists() and not best.exists():
        raise CheckpointError(
            f"--resume: no {last} (no epoch of this run finished yet); start the run without "
            "--resume (or --force to start over)"
        )
    try:
        return last, load_checkpoint(last)
    except CheckpointError as err:
        if not best.is_file():
            raise CheckpointError(
                f"{err}; best.pt is absent too, so nothing can be resumed: start over with --force"
            ) from None
        try:
            state = load_checkpoint(best)
        except CheckpointError as err_best:
            raise CheckpointError(f"{err}; {err_best}; start over with --force") from None
    log(
        f"note: {last} is unreadable; resuming from {best} (epoch {state.get('epoch', '?')}), the epochs after it "
        "are trained again"
    )
    return best, state


def capture_rng(loader_generator: torch.Generator | None) -> dict[str, Any]:
    """Random state of torch (CPU and CUDA), numpy, python and the DataLoader generator."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "state": list(py_state), "gauss": py_gauss},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if loader_generator is not None:
        state["loader"] = loader_generator.get_state()
    return state


def restore_rng(state: dict[str, Any], loader_generator: torch.Generator | None) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    np.random.set_state(
        (npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if loader_generator is not None and "loader" in state:
        loader_generator.set_state(state["loader"])


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict of a model, unwrapping DDP, with tensors moved to the CPU."""
    inner = getattr(model, "module", model)
    return {k: v.detach().cpu() for k, v in inner.state_dict().items()}


def to_primitive(obj: Any) -> Any:
    """Turn tuples/paths/numpy scalars into lists/strings/floats so ``weights_only`` loads them."""
    if isinstance(obj, dict):
        return {str(k): to_primitive(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_primitive(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj
