"""Loading a ``.keras`` network without running code from the file.

Keras' safe mode refuses ``Lambda`` layers (pickled Python functions). Before Keras sees the file,
:func:`check_keras_archive` reads its ``config.json`` and refuses any object that is neither
Keras' own (a ``keras`` module) nor one of the library's registered classes (``custom_objects``),
so that no module named by a model file is ever imported. :func:`load_keras_model` then loads with
safe mode on and the library's classes given explicitly, so loading does not depend on what the
saving process had imported.
"""

import json
import warnings
import zipfile

from ..exceptions import ModelFolderError

_REFUSED_CLASSES = {"Lambda", "__lambda__", "TFSMLayer"}


def _walk(node, found):
    if isinstance(node, dict):
        if "class_name" in node:
            found.append(node)
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def check_keras_archive(path, custom_objects):
    """Refuse a ``.keras`` file whose configuration names code outside Keras and the library.

    Raises :class:`~hpa_sklearn.exceptions.ModelFolderError` naming the file and the object."""
    allowed = set(custom_objects)
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{path} is not a Keras network file ({type(exc).__name__}: {exc}); "
                               "the model folder is damaged. Train or save it again.") from None
    objects = []
    _walk(config, objects)
    for obj in objects:
        name = obj.get("class_name")
        module = obj.get("module")
        registered = obj.get("registered_name")
        if name in _REFUSED_CLASSES:
            raise ModelFolderError(
                f"{path} holds a {name} object (Python code inside a model file); it is refused. "
                "hpa-sklearn never writes one: the file was not written by this library.")
        ours = isinstance(registered, str) and registered in allowed
        keras_own = module is None or (isinstance(module, str) and (
            module == "keras" or module.startswith("keras.")))
        if not (ours or keras_own):
            raise ModelFolderError(
                f"{path} refers to {module}.{name} (registered as {registered!r}), which is neither "
                "part of Keras nor of hpa-sklearn; the file is refused and no code from it runs.")


def load_keras_model(path, custom_objects):
    """Load the network at ``path`` (safe mode, the library's classes given explicitly); one
    :class:`~hpa_sklearn.exceptions.ModelFolderError` naming the file when that fails."""
    import keras

    check_keras_archive(path, custom_objects)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input channels", category=UserWarning)
            return keras.saving.load_model(path, custom_objects=dict(custom_objects),
                                           safe_mode=True)
    except Exception as exc:  # a damaged zip, wrong weights: one message naming the file
        raise ModelFolderError(
            f"{path} cannot be loaded ({type(exc).__name__}: {str(exc)[:300]}); the file is "
            "damaged or not a network saved by this library. Train or copy it again.") from None
