"""Studies built on the library: each a small package with its models, recipes and runs.

- :mod:`snnlab.apps.lsm`: a liquid-state machine whose fixed random weights live in resistive
  memory (classification, zero-shot retrieval, device studies);
- :mod:`snnlab.apps.motion`: heterogeneous-delay motion detection on synthetic DVS movies.

Apps train on the shared loop (:mod:`snnlab.train.fit`) and read their recipes with the one
typed-recipe loader (:func:`snnlab.recipe.load_typed_recipe`); the device and cost models they use
stay in :mod:`snnlab.hw` (numpy only). Only ``snnlab.commands`` imports an app.
"""
