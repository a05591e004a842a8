"""Compile the event-driven simulator's numba engine for one state dtype and store it in numba's cache.

Run by tests/conftest.py before the workers of a parallel test run start (``pytest -n``), one
process per dtype: the engine is one large function (about 50 s of compile per dtype), and
workers that reach it at the same time would each compile it before either has cached it.
Usage: python tests/warm_jit.py float32|float64
"""

from __future__ import annotations

import sys

import numpy as np

from snnlab.sim import vogels_abbott_cuba


def main(dtype: str) -> None:
    sim = vogels_abbott_cuba(n=50, p=0.2).simulator(dtype=np.dtype(dtype))
    sim.run([], steps=2)


if __name__ == "__main__":
    main(sys.argv[1])
