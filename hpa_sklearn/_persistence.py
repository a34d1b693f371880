"""Saved classifier folders: the files they hold, the rule for replacing one, and the checks
that turn every defect of ``estimator.json`` into one ``ValueError`` naming the file and the key."""

import json
import os
from pathlib import Path

import keras
import numpy as np
from sklearn.base import BaseEstimator

from ._training import BEST_WEIGHTS_FILE, TRAINING_FILE
from ._validation import check_thresholds
from .preprocessing import ImageAugmenter

# 2: the network file keeps the optimizer's state, parameter checkpoint_dir;
# 3: parameters backbone, lr_schedule, warmup_epochs, tta
SAVE_FORMAT = 3
MODEL_FILE = "model.keras"
ESTIMATOR_FILE = "estimator.json"
_PARAMS_SINCE = {"checkpoint_dir": 2, "backbone": 3, "lr_schedule": 3, "warmup_epochs": 3,
                 "tta": 3}  # parameter -> the format that added it: absent from older saves
_FITTED_KEYS = ("classes_", "n_outputs_", "image_shape_", "input_dtype_", "channels_", "history_")


def is_saved_folder(path):
    """True for a folder that :meth:`HPAClassifier.save` (or a checkpoint) wrote: only
    then may a new save replace it."""
    known = {MODEL_FILE, ESTIMATOR_FILE, TRAINING_FILE, BEST_WEIGHTS_FILE}
    children = list(Path(path).iterdir())
    return (Path(path) / ESTIMATOR_FILE).is_file() and all(
        child.name in known or (child.suffix == ".json" and child.is_file()) for child in children
    )


def is_checkpoint_folder(path):
    """True for a folder holding only what a checkpoint holds (a damaged one included)."""
    known = {MODEL_FILE, ESTIMATOR_FILE, TRAINING_FILE, BEST_WEIGHTS_FILE}
    return all(child.name in known for child in Path(path).iterdir())


def key_value(value):
    """A parameter value as stable JSON for a checkpoint key (no memory addresses)."""
    if isinstance(value, BaseEstimator):
        return {type(value).__name__: {k: key_value(v) for k, v in value.get_params().items()}}
    if isinstance(value, keras.optimizers.Optimizer):
        return keras.optimizers.serialize(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.random.RandomState):
        return "RandomState"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _subclasses(cls):
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


def read_estimator_json(cls, meta_path):
    """Read and check ``estimator.json`` of a save of ``cls`` or of a subclass; return
    ``(the class, params, fitted)``, ready for ``the_class(**params)``.

    Every defect is one ``ValueError`` naming the file and the key."""

    def damaged(key, what):
        return ValueError(f"{meta_path}: {key}: {what}. The file is damaged or was not written by "
                          f"{cls.__name__}.save(); save the classifier again.")

    try:
        state = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{meta_path} cannot be read as JSON ({exc}); the file is damaged. Save "
                         "the classifier again.") from None
    if not isinstance(state, dict):
        raise damaged("(top level)", f"expected a JSON object, got {type(state).__name__}")
    for key in sorted(set(state) ^ {"format", "class", "params", "fitted"}):
        raise damaged(key, "unknown key" if key in state else "missing")
    if state["format"] not in range(1, SAVE_FORMAT + 1) or isinstance(state["format"], bool):
        raise damaged("format", f"{state['format']!r} is not a save format this version reads "
                                f"(1 to {SAVE_FORMAT})")
    family = {c.__name__: c for c in _subclasses(cls)}
    if state["class"] not in family:
        raise damaged("class", f"{state['class']!r}, not {cls.__name__!r} or a subclass of it")
    cls = family[state["class"]]
    params, fitted = state["params"], state["fitted"]
    if not isinstance(params, dict):
        raise damaged("params", "expected an object")
    if not isinstance(fitted, dict):
        raise damaged("fitted", "expected an object")
    defaults = cls().get_params(deep=False)
    for key in sorted(set(params) - set(defaults)):
        raise damaged(f"params.{key}", "unknown parameter")
    for key in sorted(set(defaults) - set(params)):
        if _PARAMS_SINCE.get(key, 1) <= state["format"]:
            raise damaged(f"params.{key}", "missing")
        params[key] = defaults[key]
    augmentation = params["augmentation"]
    if augmentation is not None:
        if not (isinstance(augmentation, dict) and set(augmentation) == {"ImageAugmenter"}
                and isinstance(augmentation["ImageAugmenter"], dict)):
            raise damaged("params.augmentation", "expected null or {\"ImageAugmenter\": {...}}")
        try:
            params["augmentation"] = ImageAugmenter(**augmentation["ImageAugmenter"])
            params["augmentation"]._check_params()
        except (TypeError, ValueError) as exc:
            raise damaged("params.augmentation", str(exc)) from None
    if isinstance(params["optimizer"], dict):
        try:
            params["optimizer"] = keras.optimizers.deserialize(params["optimizer"]["keras"])
        except Exception as exc:  # Keras raises many kinds for a bad config
            raise damaged("params.optimizer", f"{type(exc).__name__}: {exc}") from None
    for key in ("hidden_units", "channels"):
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    for key in _FITTED_KEYS:
        if key not in fitted:
            raise damaged(f"fitted.{key}", "missing")
    for key in sorted(set(fitted) - set(_FITTED_KEYS)):
        raise damaged(f"fitted.{key}", "unknown key")
    n_outputs = fitted["n_outputs_"]
    if not isinstance(n_outputs, int) or isinstance(n_outputs, bool) or n_outputs < 1:
        raise damaged("fitted.n_outputs_", f"{n_outputs!r} is not a positive integer")
    if fitted["classes_"] != list(range(n_outputs)):
        raise damaged("fitted.classes_", f"expected 0 .. {n_outputs - 1}")
    shape = fitted["image_shape_"]
    if not (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
            and 1 <= shape[2] <= 4):
        raise damaged("fitted.image_shape_", f"{shape!r} is not [height, width, 1 to 4 channels]")
    if fitted["input_dtype_"] not in ("uint8", "float32"):
        raise damaged("fitted.input_dtype_", f"{fitted['input_dtype_']!r} is not uint8 or float32")
    channels = fitted["channels_"]
    if not (isinstance(channels, list) and len(channels) == shape[2]
            and all(isinstance(c, str) for c in channels)):
        raise damaged("fitted.channels_", f"{channels!r} is not {shape[2]} channel names")
    history = fitted["history_"]
    if not (isinstance(history, dict) and all(
            isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
            for v in history.values())):
        raise damaged("fitted.history_", "expected an object of lists of numbers")
    for key in ("threshold", "class_weight"):
        if key == "class_weight" and (params[key] is None or params[key] == "balanced"):
            continue
        try:
            check_thresholds(params[key], n_outputs, name=key)
        except (TypeError, ValueError) as exc:
            raise damaged(f"params.{key}", str(exc)) from None
    return cls, params, fitted
