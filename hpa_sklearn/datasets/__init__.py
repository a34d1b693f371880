"""Human Protein Atlas data: class names, channel order, the Kaggle-layout loader, submissions and
the embedded synthetic data set (:func:`make_hpa_like`)."""

from ._cache import cache_entries, clear_cache
from ._combine import combine
from .._constants import CHANNELS, CLASS_NAMES, MIN_IMAGE_SIZE, N_CLASSES
from ._kaggle import load_hpa, read_label_csv, write_kaggle_layout
from .._arrays import LazyImages
from ._labels import indicator_to_labels, labels_to_indicator
from ._submission import read_submission, write_submission
from ._synthetic import make_hpa_like

__all__ = [
    "CHANNELS",
    "CLASS_NAMES",
    "MIN_IMAGE_SIZE",
    "N_CLASSES",
    "LazyImages",
    "cache_entries",
    "clear_cache",
    "combine",
    "indicator_to_labels",
    "labels_to_indicator",
    "load_hpa",
    "make_hpa_like",
    "read_label_csv",
    "read_submission",
    "write_kaggle_layout",
    "write_submission",
]
