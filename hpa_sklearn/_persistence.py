"""Saving and loading every model of the library in its one folder format
(:mod:`hpa_sklearn._io.model_folder`): a classifier, a fold ensemble, a threshold tuner (whose
inner model is a member folder), and :func:`load_model`, which loads any of them.

Parameters are stored as JSON: nested estimators and splitters by class name and parameters, a
Keras optimizer by its Keras configuration; machine paths are not kept (``checkpoint_dir`` and a
``weights`` file come back as None), so that a loaded model never writes where the saving
machine did. Only the library's own classes are ever created from a folder.
"""

import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from ._engine.config import fitted_from_record
from ._engine.saving import load_network
from ._io.atomic import atomic_folder, recover_folder
from ._io.model_folder import MODEL_FILE, read_manifest, write_manifest
from ._io.ownership import replaceable
from ._validation import check_thresholds
from .exceptions import InputError, ModelFolderError

_PATH = "__path__"
_ESTIMATOR = "__estimator__"
_SPLITTER = "__splitter__"
_OPTIMIZER = "__keras_optimizer__"
_LEGACY = "__legacy_format__"
_TUPLES = ("hidden_units", "channels")


def _classes():
    """The classes a folder may name: {name: class}."""
    from .classifier import HPAClassifier
    from .ensemble import HPAFoldEnsemble
    from .model_selection import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit
    from .preprocessing import ImageAugmenter
    from .thresholds import MultilabelThresholdTuner
    from .vgg16 import HPAVGG16Classifier

    return {cls.__name__: cls for cls in (
        HPAClassifier, HPAVGG16Classifier, HPAFoldEnsemble, MultilabelThresholdTuner,
        ImageAugmenter, MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit)}


def _splitter_params(splitter):
    if type(splitter).__name__ == "MultilabelStratifiedKFold":
        return {"n_splits": splitter.n_splits, "shuffle": splitter.shuffle,
                "random_state": splitter.random_state}
    return {"n_splits": splitter.n_splits, "test_size": splitter.test_size,
            "train_size": splitter.train_size, "random_state": splitter.random_state}


# ----------------------------------------------------------------------------- values
def encode_value(value, *, strict=False):
    """A parameter value as JSON. ``strict``: refuse what cannot be saved (else ``repr``)."""
    import keras

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [encode_value(v, strict=strict) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return {_PATH: os.fspath(value)}
    if isinstance(value, np.random.RandomState):
        return None
    if isinstance(value, keras.optimizers.Optimizer):
        return {_OPTIMIZER: keras.optimizers.serialize(value)}
    name = type(value).__name__
    if name in ("MultilabelStratifiedKFold", "MultilabelStratifiedShuffleSplit"):
        return {_SPLITTER: name, "params": _splitter_params(value)}
    if isinstance(value, BaseEstimator):
        params = _saved_params(value) if strict else {
            k: encode_value(v) for k, v in value.get_params(deep=False).items()}
        return {_ESTIMATOR: name, "params": params}
    if strict:
        raise InputError(f"a parameter value of type {name} cannot be saved ({value!r}); set it "
                         "to a value the library knows (None, a number, a name) before saving.")
    return repr(value)


def _saved_params(estimator):
    params = estimator.get_params(deep=False)
    if "callbacks" in params:
        params["callbacks"] = None  # Keras callbacks are code: not saved
    if "checkpoint_dir" in params:
        params["checkpoint_dir"] = None  # a machine's path: never carried into the next run
    if isinstance(params.get("weights"), (str, os.PathLike)) and params["weights"] != "imagenet":
        # kept as a record only (encoded as {"__path__": ...}, which loads as None)
        params["weights"] = Path(params["weights"])
    if params.get("cv") is not None and not isinstance(params["cv"], (int, float, str)) and (
            type(params["cv"]).__name__ not in ("MultilabelStratifiedKFold",
                                                "MultilabelStratifiedShuffleSplit")):
        params["cv"] = None  # a custom splitter or a list of folds: not saved
    return {k: encode_value(v, strict=True) for k, v in params.items()}


def estimator_record(estimator):
    """``{"class", "params"}`` of an estimator, as saved in a manifest."""
    return {"class": type(estimator).__name__, "params": _saved_params(estimator)}


def _decode_value(value, where):
    import keras

    if isinstance(value, list):
        return [_decode_value(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {_PATH}:
        return None  # a path of the machine that saved the model is not used here
    if set(value) == {_OPTIMIZER}:
        config = value[_OPTIMIZER]
        module = config.get("module", "keras.optimizers") if isinstance(config, dict) else None
        if not (isinstance(module, str) and module.startswith("keras")):
            raise ModelFolderError(f"{where}: the optimizer is not one of Keras' own.")
        try:
            return keras.optimizers.deserialize(config)
        except Exception as exc:  # Keras raises many kinds for a bad config
            raise ModelFolderError(f"{where}: the optimizer cannot be read ({exc}).") from None
    for marker in (_ESTIMATOR, _SPLITTER):
        if marker in value:
            classes = _classes()
            name = value[marker]
            if set(value) != {marker, "params"} or name not in classes or not isinstance(
                    value["params"], dict):
                raise ModelFolderError(f"{where}: {name!r} is not a class of hpa-sklearn's that "
                                       "a model folder may hold.")
            params = {k: _decode_value(v, f"{where}.{k}") for k, v in value["params"].items()}
            try:
                return classes[name](**params)
            except (TypeError, ValueError) as exc:
                raise ModelFolderError(f"{where}: {exc}") from None
    raise ModelFolderError(f"{where}: an object that is not a saved value ({sorted(value)}).")


def _make_estimator(record, where, klass, fixed=None):
    """``klass(**params)`` from a manifest's ``estimator`` record, its parameters validated;
    ``fixed`` gives values (already built) for some parameters instead of the record's."""
    fixed = fixed or {}
    params = dict(record["params"])
    legacy = params.pop(_LEGACY, None)
    try:
        defaults = klass().get_params(deep=False)
    except TypeError:  # a meta-estimator whose estimator is required
        defaults = klass(None).get_params(deep=False)
    for key in sorted(set(params) - set(defaults)):
        raise ModelFolderError(f"{where}: params.{key}: unknown parameter of {klass.__name__}.")
    for key in sorted(set(defaults) - set(params)):
        if legacy is None:
            raise ModelFolderError(f"{where}: params.{key}: missing.")
        params[key] = defaults[key]  # a parameter added after hpa-sklearn 0.1
    params = {k: fixed[k] if k in fixed else _decode_value(v, f"{where}: params.{k}")
              for k, v in params.items()}
    for key in _TUPLES:
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    if "checkpoint_dir" in params:
        params["checkpoint_dir"] = None
    try:
        estimator = klass(**params)
        estimator._validate_params()
        if hasattr(estimator, "_check_params"):
            estimator._check_params()
    except (TypeError, ValueError) as exc:
        raise ModelFolderError(f"{where}: params: {exc}") from None
    return estimator


# ----------------------------------------------------------------------------- saving
def _write(estimator, folder, run):
    """Write ``estimator`` into the (temporary) folder ``folder``."""
    from .classifier import HPAClassifier
    from .ensemble import HPAFoldEnsemble
    from .thresholds import MultilabelThresholdTuner

    if isinstance(estimator, HPAClassifier):
        if not estimator.__sklearn_is_fitted__():
            raise NotFittedError("fit the classifier before saving it.")
        estimator.model_.save(folder / MODEL_FILE)
        record = {**estimator_record(estimator), "fitted": estimator._network().record()}
        return write_manifest(folder, estimator=record, run=run)
    if isinstance(estimator, HPAFoldEnsemble):
        members = estimator._members()
        names = [f"fold-{i + 1}" for i in range(len(members))]
        for name, member in zip(names, members):
            (folder / name).mkdir()
            _write(member, folder / name, None)
        return write_manifest(folder, estimator={**estimator_record(estimator), "fitted": {}},
                              members=names, run=run)
    if isinstance(estimator, MultilabelThresholdTuner):
        if not hasattr(estimator, "best_thresholds_"):
            raise NotFittedError("fit the threshold tuner before saving it.")
        (folder / "estimator").mkdir()
        _write(estimator.estimator_, folder / "estimator", None)
        fitted = {"best_thresholds_": estimator.best_thresholds_.tolist(),
                  "best_score_": float(estimator.best_score_)}
        return write_manifest(folder, estimator={**estimator_record(estimator), "fitted": fitted},
                              members=["estimator"], run=run)
    raise InputError(f"{type(estimator).__name__} cannot be saved in hpa-sklearn's model format; "
                     "save an HPAClassifier, an HPAFoldEnsemble of them or a "
                     "MultilabelThresholdTuner over one.")


def save_model(estimator, path, *, run=None):
    """Save ``estimator`` to the folder ``path`` (written whole, then swapped in; an existing
    folder is replaced only when it is a model folder of the library)."""
    path = Path(path)
    if run is not None and not isinstance(run, dict):
        raise InputError(f"run must be a dict (a JSON record of how the model was made); got "
                         f"{type(run).__name__}.")
    with atomic_folder(path, replaceable=replaceable("model")) as tmp:
        _write(estimator, tmp, run)
    return path


# ----------------------------------------------------------------------------- loading
def _load(folder, manifest):
    from .classifier import HPAClassifier
    from .ensemble import HPAFoldEnsemble
    from .thresholds import MultilabelThresholdTuner

    where = folder / "hpa-sklearn.json"
    record = manifest["estimator"]
    classes = _classes()
    klass = classes.get(record["class"])
    if klass is None or not issubclass(klass, (HPAClassifier, HPAFoldEnsemble,
                                               MultilabelThresholdTuner)):
        raise ModelFolderError(f"{where}: estimator.class: {record['class']!r} is not a model "
                               "class of hpa-sklearn.")
    if issubclass(klass, HPAClassifier):
        if MODEL_FILE not in manifest["files"]:
            raise ModelFolderError(f"{where}: files: no {MODEL_FILE} listed for a classifier.")
        estimator = _make_estimator(record, where, klass)
        model = load_network(folder / MODEL_FILE)
        estimator._set_fitted(fitted_from_record(record.get("fitted", {}), model, where))
        try:  # one threshold per label of the network (a list of another length loads, but
            # every predict would fail on it)
            check_thresholds(estimator.threshold, estimator.n_outputs_)
        except ValueError as exc:
            raise ModelFolderError(f"{where}: params.threshold: {exc}") from None
        return estimator
    members = [load_model(folder / name) for name in manifest["members"]]
    if issubclass(klass, HPAFoldEnsemble):
        if not members:
            raise ModelFolderError(f"{where}: members: an ensemble needs at least one member.")
        params = {k: v for k, v in record["params"].items() if k != "estimator"}
        template = {"class": record["class"], "params": {**params, "estimator": None}}
        estimator = _make_estimator(template, where, klass)
        try:
            return estimator._set_members(members)
        except ValueError as exc:
            raise ModelFolderError(f"{where}: {exc}") from None
    if manifest["members"] != ["estimator"]:
        raise ModelFolderError(f"{where}: members: a threshold tuner holds one member, "
                               "'estimator'.")
    inner = members[0]
    template = inner if not hasattr(inner, "_members") else inner._members()[0]
    # the tuner's estimator: an unfitted clone of the model it holds (validated like the rest)
    tuner = _make_estimator(record, where, klass, fixed={"estimator": clone(template)})
    fitted = record.get("fitted", {})
    try:
        thresholds = np.asarray(fitted["best_thresholds_"], dtype=float)
        score = float(fitted["best_score_"])
    except (KeyError, TypeError, ValueError):
        raise ModelFolderError(f"{where}: fitted: best_thresholds_ and best_score_ are "
                               "required numbers.") from None
    if thresholds.shape != (inner.n_outputs_,) or not np.all(np.isfinite(thresholds)):
        raise ModelFolderError(f"{where}: fitted.best_thresholds_: expected {inner.n_outputs_} "
                               "finite numbers.")
    tuner._set_tuned(inner, thresholds, score)
    return tuner


def load_model(path, *, expect=None):
    """Load any model saved by hpa-sklearn: a classifier, a fold ensemble, a threshold tuner, a
    command line's model folder, a checkpoint, or a folder of hpa-sklearn 0.1.

    Every file is checked against the manifest (size and SHA-256) before use; the manifest and
    the parameters are validated (an error names the file and the key); a network file that
    names code outside Keras and the library is refused, and Keras' safe mode stays on: nothing
    in a model folder runs code. Loading reads nothing outside the folder.

    Parameters
    ----------
    path : str or Path
        The model folder.
    expect : class, default=None
        Refuse a folder that holds another kind of model (used by ``HPAClassifier.load``).

    Returns
    -------
    estimator : HPAClassifier, HPAVGG16Classifier, HPAFoldEnsemble or MultilabelThresholdTuner
        Fitted; it predicts what the saved one predicted.

    Examples
    --------
    >>> import tempfile
    >>> from hpa_sklearn import HPAClassifier, load_model
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
    ...                     verbose=0, random_state=0).fit(X, Y)
    >>> folder = clf.save(tempfile.mkdtemp() + "/model")
    >>> loaded = load_model(folder)
    >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    folder = recover_folder(Path(path))
    manifest = read_manifest(folder)
    estimator = _load(folder, manifest)
    if expect is not None and not isinstance(estimator, expect):
        raise ModelFolderError(
            f"{folder} holds a saved {type(estimator).__name__}, not a {expect.__name__}; load it "
            "with hpa_sklearn.load_model(path).")
    return estimator


def read_run(path):
    """The ``run`` record of a model folder (how it was made), or None."""
    return read_manifest(Path(path), verify=False).get("run")
