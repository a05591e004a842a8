"""Hardware backend: chip profiles, mapping onto cores, energy and latency, chip descriptors.

Cost code here reads NIR graphs and activity profiles as data and imports no torch.
"""
from __future__ import annotations

from snnlab.hw.profiles import HardwareProfile, available_profiles, load_profile

__all__ = ["HardwareProfile", "available_profiles", "load_profile"]
