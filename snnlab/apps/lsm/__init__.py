"""Liquid-state machine on resistive memory (Lin et al., Nat. Comput. Sci. 5:37-47, 2025).

``reservoir`` holds the fixed random LIF reservoir whose weights are formed RRAM conductances
(device model and crossbar cost in :mod:`snnlab.hw.rram`), ``recipe`` the typed recipes,
``tasks`` the classification run (spike-count features, readout trained on the shared loop),
``zeroshot`` the two-encoder contrastive (LSM-CLIP) task and ``studies`` the device sweeps and
the energy comparison. ``snnlab lsm run|zeroshot|study CONFIG`` runs a recipe.
"""

from snnlab.apps.lsm.recipe import LSMRecipe, ZeroShotRecipe
from snnlab.apps.lsm.reservoir import EnergyCounter, LiquidStateMachine, LSMConfig

__all__ = ["EnergyCounter", "LSMConfig", "LSMRecipe", "LiquidStateMachine", "ZeroShotRecipe"]
