"""hpa-sklearn: scikit-learn-compatible classification of Human Protein Atlas images.

Heavy parts (Keras, TensorFlow) are imported on first use, so that ``import hpa_sklearn`` and the
data layer stay fast; that first import hides TensorFlow's native start-up lines
(``HPA_SKLEARN_NATIVE_LOGS=1`` shows them).
"""

import importlib

__version__ = "0.1.0"

from ._console import install_quiet_import  # noqa: E402
from ._constants import CHANNELS, CLASS_NAMES  # noqa: E402

install_quiet_import()  # TensorFlow's native start-up lines stay off the user's screen

# public name -> module that defines it (imported lazily, PEP 562)
_LAZY = {
    "HPAClassifier": ".classifier",
    "HPAVGG16Classifier": ".vgg16",
    "HPAFoldEnsemble": ".ensemble",
    "load_model": "._persistence",
    "export_model": "._export",
    "load_exported": "._export",
    "ExportedModel": "._export",
    "TrainingInterrupted": "._engine.training",
    "ChannelSelector": ".preprocessing",
    "ImageAugmenter": ".preprocessing",
    "MultilabelThresholdTuner": ".thresholds",
    "MultilabelStratifiedKFold": ".model_selection",
    "MultilabelStratifiedShuffleSplit": ".model_selection",
    "multilabel_train_test_split": ".model_selection",
    "report_param_grid": ".model_selection",
    "make_report_search": ".model_selection",
    "REPORT_SPLIT": ".model_selection",
    "REPORT_BEST_PARAMS": ".model_selection",
    "isolated_fits": ".parallel",
    "macro_f1": ".metrics",
    "macro_f1_scorer": ".metrics",
    "per_class_f1": ".metrics",
    "per_class_scores": ".metrics",
    "bootstrap_macro_f1": ".metrics",
    "f1_threshold_curves": ".metrics",
}

__all__ = ["CHANNELS", "CLASS_NAMES", "__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hpa_sklearn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
