"""The engine's Keras objects, for loading a network in any process.

Every class the engine can put into a network (the rotation layer, the loss, learning-rate
schedules) lives in :mod:`hpa_sklearn._engine.keras_objects`, registered with Keras;
:func:`custom_objects` imports it and returns them by registered name, so that a process which
imported nothing but ``hpa_sklearn`` loads any saved network.
"""

import keras

from .._io.keras_files import load_keras_model
from . import keras_objects  # noqa: F401  (importing it registers the classes)

_PACKAGE = "hpa_sklearn>"


def custom_objects():
    """``{registered name: class}`` of every Keras object the library defines."""
    registry = keras.saving.get_custom_objects()
    return {name: obj for name, obj in registry.items() if name.startswith(_PACKAGE)}


def load_network(path):
    """Load a network saved by the library (safe mode; no code from the file runs)."""
    return load_keras_model(path, custom_objects())
