"""Named configurations of :class:`~hpa_sklearn.HPAClassifier`: what to train when.

:data:`RECIPES` is the table (``hpa-sklearn train --recipe NAME`` reads it too); "cpu" names the
configuration that measured best on a CPU, and is the command line's default.
``docs/benchmarks.md`` gives each recipe's measured macro F1 and speed.

Examples
--------
>>> from hpa_sklearn.recipes import RECIPES, make_classifier
>>> sorted(RECIPES)
['cpu', 'gpu', 'library', 'mobilenet', 'report', 'smallcnn']
>>> clf = make_classifier("cpu", epochs=2)
>>> clf.backbone, clf.lr_schedule, clf.tta, clf.epochs
('smallcnn', 'one_cycle', 'dihedral', 2)
"""

from dataclasses import dataclass

from .exceptions import InputError
from .preprocessing import ImageAugmenter

_FLIPS_AND_TURNS = {"rotation": 0.0, "zoom": 0.0, "shift": 0.0, "brightness": 0.0,
                    "horizontal_flip": True, "vertical_flip": True, "rot90": True}


@dataclass(frozen=True)
class Recipe:
    """One entry of :data:`RECIPES`: a named set of :class:`~hpa_sklearn.HPAClassifier`
    parameters (``augmentation`` as :class:`~hpa_sklearn.ImageAugmenter` parameters)."""

    name: str
    params: dict
    description: str = ""


_SMALLCNN = {
    "backbone": "smallcnn",
    "weights": None,
    "hidden_units": (),
    "dropout": 0.0,
    "learning_rate": 4e-3,  # what lr_find suggested for it (docs/benchmarks.md)
    "decay": 0.0,
    "lr_schedule": "one_cycle",
    "batch_size": 32,
    "epochs": 30,
    "augmentation": _FLIPS_AND_TURNS,
    "tta": "dihedral",
}

RECIPES = {
    entry.name: entry
    for entry in (
        Recipe("cpu", _SMALLCNN,
               "the configuration that measures best on a CPU (docs/benchmarks.md, 'Recipes at "
               "equal wall-clock' and 'The default recipe and the demo'): today the small "
               "batch-normalized CNN of 'smallcnn'"),
        Recipe("smallcnn", _SMALLCNN,
               "a small batch-normalized CNN from scratch, one-cycle schedule at the rate lr_find "
               "suggests, flips and right-angle rotations, 8-view test-time augmentation"),
        Recipe("mobilenet", {
            "backbone": "mobilenetv3small", "input_size": 128, "hidden_units": (),
            "dropout": 0.0, "learning_rate": 2e-3, "decay": 0.0, "lr_schedule": "warmup_cosine",
            "warmup_epochs": 1.0, "batch_size": 32, "epochs": 12,
            "augmentation": _FLIPS_AND_TURNS, "tta": "dihedral"},
            "MobileNetV3-Small (ImageNet weights) at 128 px, warm-up and cosine, flips and "
            "right-angle rotations, 8-view test-time augmentation"),
        Recipe("gpu", {
            "backbone": "densenet121", "input_size": 512, "hidden_units": (), "dropout": 0.0,
            "learning_rate": 3e-4, "decay": 0.0, "lr_schedule": "warmup_cosine",
            "warmup_epochs": 1.0, "batch_size": 32, "epochs": 20, "loss": "focal",
            "augmentation": {"rotation": 0.0, "zoom": 0.1, "shift": 0.05, "brightness": 0.1,
                             "horizontal_flip": True, "vertical_flip": True, "rot90": True},
            "tta": "dihedral", "mixed_precision": "mixed_bfloat16"},
            "the 2018 winners' way on one GPU: DenseNet121 at 512 px, ImageNet weights, focal "
            "loss, bfloat16, 8-view test-time augmentation"),
        Recipe("report", {"backbone": "vgg16"},
               "the original report's VGG16 (batch 64, Adam 1e-4 with Keras 2 decay 5e-5, relu, "
               "dropout 0.2); the report also used 3 channels and threshold 0.5: add "
               "--channels red,green,blue --no-tune-thresholds on the command line"),
        Recipe("library", {"backbone": "vgg16"},
               "VGG16 as the library first shipped it: the network of 'report' on 4 channels "
               "with tuned thresholds (the command line's defaults)"),
    )
}


def make_classifier(recipe="cpu", **overrides):
    """An :class:`~hpa_sklearn.HPAClassifier` configured as ``recipe``, with ``overrides``.

    Parameters
    ----------
    recipe : str, default="cpu"
        A key of :data:`RECIPES`.
    **overrides
        Any parameter of :class:`~hpa_sklearn.HPAClassifier` (``weights=None`` to train from
        scratch, ``random_state``, ``epochs``, ...).

    Returns
    -------
    classifier : HPAClassifier
        An :class:`~hpa_sklearn.HPAVGG16Classifier` when the backbone is VGG16.
    """
    from .classifier import HPAClassifier
    from .vgg16 import HPAVGG16Classifier

    if recipe not in RECIPES:
        raise InputError(f"recipe must be one of {sorted(RECIPES)}; got {recipe!r}.")
    params = dict(RECIPES[recipe].params)
    if isinstance(params.get("augmentation"), dict):
        params["augmentation"] = ImageAugmenter(**params["augmentation"])
    params.update(overrides)
    if params.get("backbone", "vgg16") == "vgg16":
        return HPAVGG16Classifier(**params)  # the design's VGG16 estimator
    return HPAClassifier(**params)
