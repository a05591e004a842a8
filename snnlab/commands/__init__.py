"""Subcommands of the ``snnlab`` CLI, one module each, discovered by :mod:`snnlab.cli`.

A module here defines ``register(subparsers)``: it adds its parser (with an ``epilog`` of
examples and ``formatter_class=argparse.RawDescriptionHelpFormatter``) and sets ``func``.
Heavy imports (torch, numba) happen inside ``func``, not at module import, so ``snnlab --help``
stays fast.
"""
