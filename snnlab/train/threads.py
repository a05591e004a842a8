"""Thread counts that a run asks for, set for the run only (the process keeps its own afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

import torch


@contextmanager
def torch_threads(n: Optional[int]) -> Iterator[None]:
    """Run the block with ``n`` torch threads (``None`` or 0: unchanged) and restore the old count.

    A recipe's ``train.threads`` or a command's ``--threads`` must not change the arithmetic of what
    the same process runs next (a later training would sum in another order and differ in the last
    bits from a fresh process).
    """
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
