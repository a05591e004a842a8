"""NIR export and import (placeholder docstring replaced below)."""
from snnlab.ir.export import to_nir
from snnlab.ir.importer import from_nir
from snnlab.ir.io import load, save

__all__ = ["from_nir", "load", "save", "to_nir"]
