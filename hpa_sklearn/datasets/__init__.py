"""Human Protein Atlas data: class names, channel order, the Kaggle-layout loader, submissions and
the embedded synthetic data set (:func:`make_hpa_like`)."""

from ._constants import CHANNELS, CLASS_NAMES, MIN_IMAGE_SIZE, N_CLASSES

__all__ = [
    "CHANNELS",
    "CLASS_NAMES",
    "MIN_IMAGE_SIZE",
    "N_CLASSES",
]
