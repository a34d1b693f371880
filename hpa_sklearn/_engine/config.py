"""What the engine takes and gives: :class:`TrainingConfig` (plain values, built by an estimator
from its parameters) and :class:`FittedNetwork` (the trained network and what was learned about
the data), with the JSON record of the latter that saved models and checkpoints keep."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._io.schema import Int, List, Map, Num, Obj, Str, check, fail


@dataclass(frozen=True)
class TrainingConfig:
    """Everything training needs, as plain values (see :class:`~hpa_sklearn.HPAClassifier` for
    the meaning of each). ``augmentation`` is any object with ``make_layers(seed, image_shape=)``
    and ``layer_seed(fallback=)`` (an :class:`~hpa_sklearn.ImageAugmenter`); ``key`` is the JSON
    of the parameters that shape training (the checkpoint key digests it); ``record`` is the
    estimator's class and parameters as JSON, written into each checkpoint's manifest so that a
    checkpoint loads as a model."""

    backbone: str = "vgg16"
    weights: Any = None
    input_size: Any = None
    channels: Any = None
    yellow_init: str = "red"
    pooling: str = "avg"
    hidden_units: tuple = (512,)
    activation: str = "relu"
    dropout: float = 0.2
    optimizer: Any = "adam"
    learning_rate: float = 1e-4
    decay: float = 0.0
    lr_schedule: Any = None
    warmup_epochs: float = 1.0
    batch_size: int = 64
    epochs: int = 10
    time_budget: Any = None
    loss: str = "binary_crossentropy"
    focal_gamma: float = 2.0
    class_weight: Any = None
    augmentation: Any = None
    early_stopping: bool = False
    validation_fraction: float = 0.1
    patience: int = 5
    callbacks: tuple = ()
    mixed_precision: Any = None
    distribution: Any = None
    jit_compile: Any = "auto"
    workers: int = 1
    checkpoint_dir: Any = None
    seed: int = 0
    verbose: int = 0
    key: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)


@dataclass
class FittedNetwork:
    """A trained network and what was learned with it."""

    model: Any
    n_outputs: int
    image_shape: tuple
    input_dtype: str
    channels: tuple
    history: dict
    best_weights: Any = None  # early stopping: the weights of the best validation epoch

    def record(self):
        """The JSON record of the fitted attributes (``fitted`` of a manifest)."""
        return {"classes_": list(range(self.n_outputs)), "n_outputs_": int(self.n_outputs),
                "image_shape_": [int(s) for s in self.image_shape],
                "input_dtype_": self.input_dtype, "channels_": list(self.channels),
                "history_": self.history}


def _record_rule(doc, path):
    if doc["classes_"] != list(range(doc["n_outputs_"])):
        fail(f"{path}.classes_" if path else "classes_", f"expected 0 .. {doc['n_outputs_'] - 1}")
    if len(doc["channels_"]) != doc["image_shape_"][2]:
        fail(f"{path}.channels_" if path else "channels_",
             f"{doc['channels_']!r} is not {doc['image_shape_'][2]} channel names")
    if not 1 <= doc["image_shape_"][2] <= 4:
        fail(f"{path}.image_shape_" if path else "image_shape_", "must have 1 to 4 channels")


RECORD_SCHEMA = Obj(
    {"classes_": List(Int(minimum=0)), "n_outputs_": Int(minimum=1),
     "image_shape_": List(Int(minimum=1), length=3), "input_dtype_": Str(("uint8", "float32")),
     "channels_": List(Str()), "history_": Map(List(Num()))},
    rule=_record_rule,
)


def fitted_from_record(record, model, where):
    """A :class:`FittedNetwork` from a validated record and its loaded network; the network's
    shapes must match the record."""
    record = check(record, RECORD_SCHEMA, where, path="fitted")
    shapes = (tuple(model.input_shape[1:]), model.output_shape[-1])
    if shapes != (tuple(record["image_shape_"]), record["n_outputs_"]):
        from ..exceptions import ModelFolderError

        raise ModelFolderError(
            f"{where}: the network takes {shapes[0]} and gives {shapes[1]} outputs, but the "
            f"manifest says image_shape_={record['image_shape_']}, "
            f"n_outputs_={record['n_outputs_']}; the folder is damaged.")
    return FittedNetwork(model=model, n_outputs=record["n_outputs_"],
                         image_shape=tuple(record["image_shape_"]),
                         input_dtype=record["input_dtype_"], channels=tuple(record["channels_"]),
                         history=record["history_"])


def classes_of(network):
    return np.arange(network.n_outputs)
