"""Named configurations of :class:`~hpa_sklearn.HPAClassifier`: what to train when.

====================  ==========================================================================
recipe                what it is
====================  ==========================================================================
``"report"``          the original report's VGG16 (batch 64, Adam 1e-4 with Keras 2 decay 5e-5,
                      relu, dropout 0.2, threshold 0.5); the report used 3 channels at 64 px
``"library"``         VGG16 as the library first shipped it (4 channels, per-class thresholds
                      tuned by :class:`~hpa_sklearn.MultilabelThresholdTuner`)
``"cpu"``             a model a user without a GPU can train to something useful: MobileNetV3-
                      Small at 128 px, warm-up and cosine schedule, flips and right-angle
                      rotations in training and at test time (``tta="dihedral"``)
``"gpu"``             the 2018 winners' way on one GPU: DenseNet121 at 512 px, ImageNet weights,
                      warm-up and cosine, focal loss, bfloat16, 8-view test-time augmentation
====================  ==========================================================================

``docs/benchmarks.md`` gives each recipe's measured macro F1 and speed.

Examples
--------
>>> from hpa_sklearn.recipes import make_classifier
>>> clf = make_classifier("cpu", weights=None, epochs=2)
>>> clf.backbone, clf.input_size, clf.lr_schedule, clf.epochs
('mobilenetv3small', 128, 'warmup_cosine', 2)
"""

from .preprocessing import ImageAugmenter

RECIPES = {
    "report": {"backbone": "vgg16"},
    "library": {"backbone": "vgg16"},
    "cpu": {
        "backbone": "mobilenetv3small",
        "input_size": 128,
        "hidden_units": (),
        "dropout": 0.0,
        "learning_rate": 2e-3,
        "decay": 0.0,
        "lr_schedule": "warmup_cosine",
        "warmup_epochs": 1.0,
        "batch_size": 32,
        "epochs": 12,
        "augmentation": {"rotation": 0.0, "zoom": 0.0, "shift": 0.0, "brightness": 0.0,
                         "horizontal_flip": True, "vertical_flip": True, "rot90": True},
        "tta": "dihedral",
    },
    "gpu": {
        "backbone": "densenet121",
        "input_size": 512,
        "hidden_units": (),
        "dropout": 0.0,
        "learning_rate": 3e-4,
        "decay": 0.0,
        "lr_schedule": "warmup_cosine",
        "warmup_epochs": 1.0,
        "batch_size": 32,
        "epochs": 20,
        "loss": "focal",
        "augmentation": {"rotation": 0.0, "zoom": 0.1, "shift": 0.05, "brightness": 0.1,
                         "horizontal_flip": True, "vertical_flip": True, "rot90": True},
        "tta": "dihedral",
        "mixed_precision": "mixed_bfloat16",
    },
}


def make_classifier(recipe="cpu", **overrides):
    """An :class:`~hpa_sklearn.HPAClassifier` configured as ``recipe``, with ``overrides``.

    Parameters
    ----------
    recipe : {"report", "library", "cpu", "gpu"}, default="cpu"
    **overrides
        Any parameter of :class:`~hpa_sklearn.HPAClassifier` (``weights=None`` to train from
        scratch, ``random_state``, ``epochs``, ...).

    Returns
    -------
    classifier : HPAClassifier
        An :class:`~hpa_sklearn.HPAVGG16Classifier` when the backbone is VGG16.
    """
    from .classifier import HPAClassifier, HPAVGG16Classifier

    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}; got {recipe!r}.")
    params = dict(RECIPES[recipe])
    if isinstance(params.get("augmentation"), dict):
        params["augmentation"] = ImageAugmenter(**params["augmentation"])
    params.update(overrides)
    if params.get("backbone", "vgg16") == "vgg16":
        return HPAVGG16Classifier(**params)  # the design's VGG16 estimator
    return HPAClassifier(**params)
