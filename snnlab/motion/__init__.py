"""Heterogeneous-delay motion detection (Grimaldi & Perrinet, Biological Cybernetics 2023).

``generator`` makes synthetic DVS movies of moving textures, ``model`` holds the HD-SNN layer
(a causal spatio-temporal convolution read as a logistic regression), ``train`` fits and
evaluates it, ``pruning`` measures accuracy against the number of synapses kept.
"""
