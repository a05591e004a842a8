"""Heterogeneous-delay motion detection (Grimaldi & Perrinet, Biological Cybernetics 2023).

``generator`` makes synthetic DVS movies of moving textures, ``model`` holds the HD-SNN layer
(a causal spatio-temporal convolution read as a logistic regression), ``samples`` picks the
voxels it is trained and read at, ``recipe`` the typed YAML recipe, ``train`` fits and
evaluates the layer, ``pruning`` measures accuracy against the
number of synapses kept. ``snnlab motion train|prune CONFIG`` runs a recipe.
"""

from snnlab.apps.motion.generator import MovieConfig, generate_dataset, generate_movie
from snnlab.apps.motion.model import HDSNN, prune_kernel, shorten_kernel

__all__ = ["HDSNN", "MovieConfig", "generate_dataset", "generate_movie", "prune_kernel", "shorten_kernel"]
