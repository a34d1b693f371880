"""Export trained networks as one self-contained model that leaves Python: ONNX (for onnxruntime,
in any language) or a TensorFlow SavedModel, with its metadata file beside it.

The exported graph takes the raw image array and returns the label probabilities::

    image (n, H, W, C_in), uint8 0..255 (or float32 0..1, as the network was trained)
      -> the network's channels picked from the input's (C_in = the four HPA channels, red, green,
         blue, yellow, whenever the network's channels are HPA channel names)
      -> the test-time augmentation views (flips or the 8 dihedral views), stacked on the batch
         axis: one forward pass
      -> each network with training=False: its own cast and rescale, resize (input_size),
         per-channel standardization, backbone and head; augmentation layers are identities
      -> mean over the views, then over the networks (a fold ensemble)  -> (n, n_labels) float32

The rescaling, resizing and standardization are layers of the trained network already
(:mod:`hpa_sklearn._engine.network`), so they travel with it; the channel selection (done by the
data loader in the library) and the views are added here with ``keras.ops`` only, in a
Functional wrapper: no custom layer, nothing the runtimes would not know.

The folder is written whole under a temporary name and swapped in
(:func:`~hpa_sklearn._io.atomic.atomic_folder`); it is a library folder of kind ``"export"``
(:mod:`hpa_sklearn._io.ownership`), so a later export may replace it and nothing else is replaced.
"""

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._constants import CHANNELS
from .._io.atomic import atomic_folder
from .._io.export_folder import (
    FORMAT,
    INPUT_NAME,
    KIND,
    MODEL_PATHS,
    OUTPUT_NAME,
    SAVED_MODEL_ENDPOINT,
    VERSION,
    check_installed,
    listed_files,
    write_metadata,
)
from .._io.ownership import replaceable, write_marker
from ..exceptions import InputError
from .tta import TTA_MODES, tta_transforms

FORMATS = tuple(MODEL_PATHS)
#: what ``tta`` of an export may be: None (no views), a mode, or "model" (each network's own)
EXPORT_TTA = (None, *TTA_MODES, "model")
_ONNX_LIMIT = 2**31 - 1  # protobuf's limit of one file


@dataclass(frozen=True)
class ExportSpec:
    """What an estimator hands the exporter: its networks and how it decides.

    ``networks`` are Keras models sharing one input (``image_shape``, ``input_dtype``,
    ``model_channels``); ``ttas`` is each network's test-time augmentation (None or a key of
    :data:`~hpa_sklearn._engine.tta.TTA_MODES`); ``thresholds`` one per label.
    """

    networks: tuple
    ttas: tuple
    image_shape: tuple
    input_dtype: str
    model_channels: tuple
    thresholds: tuple
    threshold_source: str
    at_least_one_label: bool
    class_names: tuple
    producer: dict = field(default_factory=dict)


def check_export_options(format, tta):
    """Refuse an unknown ``format`` or ``tta`` with the choices (before any work)."""
    if format not in FORMATS:
        raise InputError(f"format must be one of {list(FORMATS)}; got {format!r}.")
    if tta not in EXPORT_TTA:
        raise InputError(f"tta must be one of {list(EXPORT_TTA)}; got {tta!r}.")
    check_installed(format)


def input_channels(model_channels):
    """``(input channel names, indices of the network's channels in them)``: the four HPA
    channels when the network's are HPA channel names, else the network's own (a mix)."""
    model_channels = tuple(model_channels)
    if all(name in CHANNELS for name in model_channels):
        return CHANNELS, tuple(CHANNELS.index(name) for name in model_channels)
    return model_channels, tuple(range(len(model_channels)))


# ----------------------------------------------------------------------------- the graph
def rot90(x, turns):
    """``np.rot90(x, turns, axes=(1, 2))`` of an image batch, in ``keras.ops``."""
    from keras import ops

    turns %= 4
    if turns == 1:
        return ops.transpose(ops.flip(x, axis=2), (0, 2, 1, 3))
    if turns == 2:
        return ops.flip(ops.flip(x, axis=1), axis=2)
    if turns == 3:
        return ops.flip(ops.transpose(x, (0, 2, 1, 3)), axis=2)
    return x


def view(x, transform):
    """The view ``(quarter turns, mirror left-right)`` of a batch, as
    :func:`hpa_sklearn._engine.tta.view` makes it with NumPy."""
    from keras import ops

    turns, mirror = transform
    x = rot90(x, turns)
    return ops.flip(x, axis=2) if mirror else x


def serving_model(spec, ttas):
    """The Functional Keras model of the export: raw image in, mean probabilities out (see the
    module docstring). ``ttas``: each network's views mode."""
    import keras
    from keras import ops

    channels, picks = input_channels(spec.model_channels)
    height, width, _ = spec.image_shape
    image = keras.Input((height, width, len(channels)), dtype=spec.input_dtype, name=INPUT_NAME)
    x = image
    if picks != tuple(range(len(channels))):
        x = ops.take(x, np.asarray(picks, dtype="int32"), axis=-1)
    stacked = {}  # views mode -> the views stacked on the batch axis (shared by the networks)
    outputs = []
    for i, (network, mode) in enumerate(zip(spec.networks, ttas)):
        # a Functional view of the network under a name of its own (the members of an
        # ensemble share theirs); it shares the layers and weights, nothing is copied
        network = keras.Model(network.inputs[0], network.outputs[0], name=f"network_{i + 1}")
        transforms = tta_transforms(mode, (height, width))
        if mode not in stacked:
            views = [view(x, t) for t in transforms]
            stacked[mode] = views[0] if len(views) == 1 else ops.concatenate(views, axis=0)
        proba = network(stacked[mode], training=False)
        if len(transforms) > 1:
            proba = ops.mean(ops.reshape(proba, (len(transforms), -1, proba.shape[-1])), axis=0)
        outputs.append(proba)
    proba = outputs[0] if len(outputs) == 1 else ops.mean(ops.stack(outputs, axis=0), axis=0)
    return keras.Model(image, proba, name="hpa_sklearn_export")


def _ttas(spec, tta):
    return tuple(spec.ttas) if tta == "model" else (tta,) * len(spec.networks)


def _tta_record(ttas):
    return ttas[0] if len(set(ttas)) == 1 else list(ttas)


# ----------------------------------------------------------------------------- writers
def _write_onnx(model, spec, folder):
    from .export_onnx import OPSET, to_onnx

    channels, _ = input_channels(spec.model_channels)
    shape = (None, *spec.image_shape[:2], len(channels))
    proto = to_onnx(model, (shape, spec.input_dtype))
    if proto.ByteSize() > _ONNX_LIMIT:
        raise InputError(f"the exported graph is {proto.ByteSize() / 2**30:.1f} GiB, over the "
                         "2 GiB of one ONNX file; export fewer networks or use "
                         "format='saved_model'.")
    (folder / MODEL_PATHS["onnx"]).write_bytes(proto.SerializeToString())
    return {"onnx_opset": OPSET}


def _write_saved_model(model, spec, folder):
    import keras
    import tensorflow as tf

    channels, _ = input_channels(spec.model_channels)
    signature = [tf.TensorSpec((None, *spec.image_shape[:2], len(channels)),
                               tf.as_dtype(spec.input_dtype), name=INPUT_NAME)]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SAVED_MODEL_ENDPOINT,
                         lambda image: {OUTPUT_NAME: model(image, training=False)},
                         input_signature=signature)
    archive.write_out(str(folder / MODEL_PATHS["saved_model"]), verbose=False)
    return {"saved_model_endpoint": SAVED_MODEL_ENDPOINT}


_WRITERS = {"onnx": _write_onnx, "saved_model": _write_saved_model}


def _metadata(spec, format, ttas, files, extra, run):
    from .. import __version__

    channels, _ = input_channels(spec.model_channels)
    height, width, _ = spec.image_shape
    return {
        "format": FORMAT,
        "version": VERSION,
        "library": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model_format": format,
        "model": MODEL_PATHS[format],
        "input": {"name": INPUT_NAME, "dtype": spec.input_dtype,
                  "shape": [None, int(height), int(width), len(channels)],
                  "value_range": [0, 255] if spec.input_dtype == "uint8" else [0.0, 1.0],
                  "layout": "NHWC", "channels": list(channels)},
        "output": {"name": OUTPUT_NAME, "dtype": "float32",
                   "shape": [None, len(spec.class_names)]},
        "class_names": list(spec.class_names),
        "thresholds": [float(t) for t in spec.thresholds],
        "threshold_source": spec.threshold_source,
        "at_least_one_label": bool(spec.at_least_one_label),
        "tta": _tta_record(ttas),
        "views": int(sum(len(tta_transforms(t, spec.image_shape[:2])) for t in ttas)),
        "model_channels": list(spec.model_channels),
        "producer": dict(spec.producer),
        "run": run,
        "files": files,
        **extra,
    }


def export_networks(spec, path, *, format="onnx", tta="model", run=None):
    """Write the export of ``spec`` (:class:`ExportSpec`) to the folder ``path``: the model
    (``model.onnx`` or ``saved_model/``), its metadata (``hpa-sklearn-export.json``) and the
    library's manifest. An existing folder is replaced only when it is an export of the library
    (or empty). ``run``: the record of how the model was made (kept in the metadata).

    Returns the folder's path."""
    import keras

    check_export_options(format, tta)
    if keras.backend.backend() != "tensorflow":
        raise InputError(f"export needs Keras' TensorFlow backend (this process runs "
                         f"{keras.backend.backend()!r}); export from a process started with "
                         "KERAS_BACKEND=tensorflow (a model saved under JAX loads there).")
    if run is not None and not isinstance(run, dict):
        raise InputError(f"run must be a dict (a JSON record of how the model was made); got "
                         f"{type(run).__name__}.")
    ttas = _ttas(spec, tta)
    for mode in ttas:
        tta_transforms(mode, spec.image_shape[:2])  # dihedral views need square images
    model = serving_model(spec, ttas)
    path = Path(path)
    with atomic_folder(path, replaceable=replaceable(KIND)) as tmp:
        extra = _WRITERS[format](model, spec, tmp)
        files = listed_files(tmp)
        write_metadata(tmp, _metadata(spec, format, ttas, files, extra, run))
        top = MODEL_PATHS[format]
        write_marker(tmp, KIND, members=[top] if (tmp / top).is_dir() else [])
    return path
