"""Models that leave Python: :func:`export_model` (behind ``HPAClassifier.export``,
``HPAFoldEnsemble.export``, ``MultilabelThresholdTuner.export`` and ``hpa-sklearn export``) and
:func:`load_exported`, the safe reader of an exported folder.

:func:`export_model` turns a fitted estimator into what the engine exports
(:class:`~hpa_sklearn._engine.export.ExportSpec`: its networks, their test-time augmentation, the
thresholds its ``predict`` applies, the class names); the engine writes the folder
(:func:`~hpa_sklearn._engine.export.export_networks`). :func:`load_exported` checks the folder
(:mod:`hpa_sklearn._io.export_folder`) before anything runs and returns an
:class:`ExportedModel`, which predicts with onnxruntime (ONNX) or TensorFlow (SavedModel) alone:
no Keras, no code from the folder.
"""

import dataclasses
from pathlib import Path

import numpy as np

from ._constants import CLASS_NAMES, N_CLASSES
from ._decision import apply_thresholds
from ._io.export_folder import (
    INPUT_NAME,
    METADATA,
    OUTPUT_NAME,
    SAVED_MODEL_ENDPOINT,
    audit_onnx,
    audit_saved_model,
    read_export_metadata,
    require,
)
from ._validation import check_thresholds
from .exceptions import InputError, ModelFolderError

FORMATS = ("onnx", "saved_model")


def _parts(estimator):
    """``(classifiers, thresholds, source, at_least_one_label)`` of a fitted library model."""
    from sklearn.utils.validation import check_is_fitted

    from .classifier import HPAClassifier
    from .ensemble import HPAFoldEnsemble
    from .thresholds import MultilabelThresholdTuner

    check_is_fitted(estimator)
    decider, source = estimator, "model"
    if isinstance(estimator, MultilabelThresholdTuner):
        thresholds, source = estimator.best_thresholds_, "tuned"
        estimator = estimator.estimator_
    else:
        thresholds = estimator.threshold
    if isinstance(estimator, HPAFoldEnsemble):
        classifiers = list(estimator.estimators_)
    else:
        classifiers = [estimator]
    for member in classifiers:
        if not isinstance(member, HPAClassifier):
            raise InputError(
                f"only the library's classifiers export (an HPAClassifier, a fold ensemble or a "
                f"threshold tuner of them); this model holds a {type(member).__name__}.")
    n_outputs = classifiers[0].n_outputs_
    thresholds = check_thresholds(thresholds, n_outputs)
    return classifiers, thresholds, source, bool(decider.at_least_one_label)


def export_spec(estimator):
    """The :class:`~hpa_sklearn._engine.export.ExportSpec` of a fitted library model."""
    from ._engine.export import ExportSpec
    from ._persistence import estimator_record

    classifiers, thresholds, source, at_least_one = _parts(estimator)
    first = classifiers[0]
    n = first.n_outputs_
    try:
        record = estimator_record(estimator)
    except InputError:  # a parameter that cannot be written as JSON: keep the class
        record = {"class": type(estimator).__name__}
    producer = {**record, "backbone": first.backbone, "members": len(classifiers),
                "image_shape": [int(s) for s in first.image_shape_],
                "input_size": first.input_size}
    return ExportSpec(
        networks=tuple(c.model_ for c in classifiers), ttas=tuple(c.tta for c in classifiers),
        image_shape=tuple(first.image_shape_), input_dtype=first.input_dtype_,
        model_channels=tuple(first.channels_), thresholds=tuple(float(t) for t in thresholds),
        threshold_source=source, at_least_one_label=at_least_one,
        class_names=CLASS_NAMES if n == N_CLASSES else tuple(f"class {i}" for i in range(n)),
        producer=producer)


def export_model(estimator, path, *, format="onnx", tta="model", run=None):
    """Export a fitted model for use outside Python: one graph that takes the raw image array
    and returns the label probabilities, with a metadata file beside it.

    The graph holds everything between the image array and the probabilities: the choice of the
    network's channels among the input's, the cast and rescaling, the resizing
    (``input_size``), the per-channel standardization, the network (augmentation off), the
    test-time augmentation views (``tta``) and, for a fold ensemble, the mean of its members.
    ``hpa-sklearn-export.json`` beside it holds the input contract (dtype, shape, channel names
    and order), the class names, the thresholds ``predict`` applies (a tuner's tuned ones) and
    ``at_least_one_label``, the test-time augmentation, the library version, the run record and
    every file's SHA-256. Read it with :func:`load_exported`, or from any language (see
    ``docs/export.md``). The probabilities equal ``predict_proba``'s within 1e-4.

    The folder is written whole and swapped in; an existing folder is replaced only when it is
    an export of the library (or empty). Needs the ``export`` extra
    (``pip install 'hpa-sklearn[export]'``: onnx, onnxruntime, tf2onnx) and Keras' TensorFlow
    backend.

    Parameters
    ----------
    estimator : HPAClassifier, HPAFoldEnsemble or MultilabelThresholdTuner
        Fitted (an ensemble's or a tuner's members: the library's classifiers).
    path : str or Path
        The folder to write.
    format : {"onnx", "saved_model"}, default="onnx"
        ``"onnx"``: ``model.onnx`` (opset 17; onnxruntime in Python, C++, C#, Java,
        JavaScript...); ``"saved_model"``: a TensorFlow SavedModel folder, ``saved_model/``
        (endpoint ``serve``; TensorFlow Serving, TensorFlow in any language).
    tta : {"model", None, "flips", "dihedral"}, default="model"
        Test-time augmentation folded into the graph: ``"model"`` keeps each classifier's own
        ``tta`` (what ``predict_proba`` does), None exports one view, ``"flips"`` 4 views,
        ``"dihedral"`` the 8 views of square images (one forward pass over all views).
    run : dict, default=None
        A JSON record of how the model was made, kept in the metadata (``hpa-sklearn export``
        copies the model folder's).

    Returns
    -------
    path : Path
        The exported folder.

    See Also
    --------
    load_exported : Check and load an exported folder.

    Examples
    --------
    >>> import tempfile
    >>> from hpa_sklearn import HPAClassifier, load_exported
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
    ...                     verbose=0, random_state=0).fit(X, Y)
    >>> folder = clf.export(tempfile.mkdtemp() + "/exported", format="onnx")
    >>> sorted(p.name for p in folder.iterdir())
    ['hpa-sklearn-export.json', 'hpa-sklearn.json', 'model.onnx']
    >>> load_exported(folder).metadata["input"]["channels"]
    ['red', 'green', 'blue', 'yellow']
    """
    from ._engine.export import check_export_options, export_networks

    check_export_options(format, tta)
    spec = export_spec(estimator)
    if isinstance(run, dict) and str(run.get("thresholds", "")).startswith("tuned"):
        # 'hpa-sklearn train' keeps its tuned thresholds in the model's threshold parameter
        spec = dataclasses.replace(spec, threshold_source="tuned")
    return export_networks(spec, path, format=format, tta=tta, run=run)


# ----------------------------------------------------------------------------- reading
class ExportedModel:
    """An exported model, checked and ready to predict (made by :func:`load_exported`).

    Attributes
    ----------
    path : Path
        The exported folder.
    metadata : dict
        The validated ``hpa-sklearn-export.json``: input contract, class names, thresholds,
        test-time augmentation, provenance.
    class_names : list of str
    thresholds : ndarray of shape (n_labels,)
    at_least_one_label : bool
    """

    def __init__(self, path, metadata, runner):
        self.path = Path(path)
        self.metadata = metadata
        self.class_names = list(metadata["class_names"])
        self.thresholds = np.asarray(metadata["thresholds"], dtype=np.float64)
        self.at_least_one_label = metadata["at_least_one_label"]
        self._run = runner

    def __repr__(self):
        m = self.metadata
        return (f"ExportedModel({str(self.path)!r}, format={m['model_format']!r}, input="
                f"{m['input']['dtype']} {tuple(m['input']['shape'])}, tta={m['tta']!r})")

    def _check_X(self, X):
        contract = self.metadata["input"]
        X = np.asarray(X) if not hasattr(X, "shape") else X
        expected = tuple(contract["shape"][1:])
        if X.ndim != 4 or tuple(X.shape[1:]) != expected:
            raise InputError(
                f"X has shape {tuple(X.shape)}; this exported model takes (n, {expected[0]}, "
                f"{expected[1]}, {expected[2]}) images, channels {', '.join(contract['channels'])}"
                " in that order (see its metadata's 'input').")
        if contract["dtype"] == "uint8" and X.dtype != np.uint8:
            raise InputError(f"X has dtype {X.dtype}; this exported model takes uint8 pixels "
                             "(0..255). Convert with X.astype(np.uint8).")
        if contract["dtype"] == "float32" and not np.issubdtype(X.dtype, np.floating):
            raise InputError(f"X has dtype {X.dtype}; this exported model takes float pixels "
                             "in 0..1.")
        return X

    def predict_proba(self, X, *, batch_size=32):
        """Probability of each label, ``(n_samples, n_labels)`` float32, ``batch_size`` images
        at a time (a memory-mapped ``X`` is read batch by batch)."""
        X = self._check_X(X)
        dtype = np.uint8 if self.metadata["input"]["dtype"] == "uint8" else np.float32
        out = np.empty((len(X), len(self.class_names)), dtype=np.float32)
        for start in range(0, len(X), batch_size):
            batch = np.ascontiguousarray(X[start:start + batch_size], dtype=dtype)
            proba = np.asarray(self._run(batch))
            if proba.shape != (len(batch), out.shape[1]):
                raise ModelFolderError(
                    f"{self.path / self.metadata['model']} gave an output of shape "
                    f"{proba.shape} for {len(batch)} images; its metadata promises "
                    f"{out.shape[1]} probabilities per image. Export the model again.")
            out[start:start + len(batch)] = proba
        return out

    def predict(self, X, *, batch_size=32):
        """0/1 labels ``(n_samples, n_labels)`` uint8: the probabilities at the exported
        thresholds, with the at-least-one-label fallback when the model had it."""
        return apply_thresholds(self.predict_proba(X, batch_size=batch_size), self.thresholds,
                                at_least_one_label=self.at_least_one_label)


def _onnx_runner(folder, metadata, n_threads):
    import hashlib

    path = folder / metadata["model"]
    data = path.read_bytes()  # what is checked is what runs: the bytes read once
    if hashlib.sha256(data).hexdigest() != metadata["files"][metadata["model"]]["sha256"]:
        raise ModelFolderError(f"{path}: its content differs from what {folder / METADATA} "
                               "recorded (SHA-256); the file is damaged or was replaced.")
    model = audit_onnx(data, path)
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if inputs != [INPUT_NAME] or outputs != [OUTPUT_NAME]:
        raise ModelFolderError(f"{path} takes {inputs} and gives {outputs}; its metadata "
                               f"promises {INPUT_NAME!r} -> {OUTPUT_NAME!r}. Refused.")
    ort = require("onnxruntime", "running an exported ONNX model")
    options = ort.SessionOptions()
    if n_threads:
        options.intra_op_num_threads = n_threads
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error classes
        raise ModelFolderError(f"{path} cannot be loaded by onnxruntime ({str(exc)[:300]}); "
                               "export the model again.") from None
    return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


def _saved_model_runner(folder, metadata):
    import tensorflow as tf

    path = folder / metadata["model"]
    audit_saved_model(path, path / "saved_model.pb")
    try:
        loaded = tf.saved_model.load(str(path))
        endpoint = getattr(loaded, SAVED_MODEL_ENDPOINT)
    except Exception as exc:  # TensorFlow raises many kinds for a bad SavedModel
        raise ModelFolderError(f"{path} cannot be loaded by TensorFlow ({str(exc)[:300]}); "
                               "export the model again.") from None

    def run(batch):
        return endpoint(batch)[OUTPUT_NAME].numpy()

    run.loaded = loaded  # the endpoint's variables live as long as the loaded object
    return run


def load_exported(path, *, n_threads=None):
    """Load a model exported by hpa-sklearn (``model.export(path)`` or ``hpa-sklearn export``),
    after checking the whole folder; nothing from the folder runs before the checks pass, and no
    Python code from it ever does.

    The checks, each failing with one :class:`~hpa_sklearn.exceptions.ModelFolderError` (a
    ``ValueError``) naming the file: ``hpa-sklearn-export.json`` is valid JSON of the known
    schema (no unknown or damaged key); every path it names is a plain relative path inside the
    folder (no ``..``, no absolute path, no symbolic link); every file it lists has its recorded
    size and SHA-256, and the model's folder holds nothing else; an ONNX model has only nodes of
    the standard domains ("", "ai.onnx", "ai.onnx.ml"; local functions and subgraphs included)
    and no external tensor data, and takes and gives what the metadata says; a SavedModel has
    only registered TensorFlow ops and none that runs Python or touches files.

    Parameters
    ----------
    path : str or Path
        The exported folder.
    n_threads : int, default=None
        onnxruntime's threads per operator (None: its default, one per core).

    Returns
    -------
    model : ExportedModel
        ``predict_proba(X)``, ``predict(X)`` (the exported thresholds), ``metadata``.

    Examples
    --------
    >>> import tempfile
    >>> from hpa_sklearn import HPAClassifier, load_exported
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
    ...                     verbose=0, random_state=0).fit(X, Y)
    >>> folder = clf.export(tempfile.mkdtemp() + "/exported")
    >>> exported = load_exported(folder)
    >>> bool(abs(exported.predict_proba(X) - clf.predict_proba(X)).max() < 1e-4)
    True
    """
    folder = Path(path)
    metadata = read_export_metadata(folder)
    if metadata["model_format"] == "onnx":
        runner = _onnx_runner(folder, metadata, n_threads)
    else:
        runner = _saved_model_runner(folder, metadata)
    return ExportedModel(folder, metadata, runner)


__all__ = ["FORMATS", "METADATA", "ExportedModel", "export_model", "load_exported"]
