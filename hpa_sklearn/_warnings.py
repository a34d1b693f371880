"""Warnings that point at the user's line: :func:`warn` gives ``warnings.warn`` the stack level of
the first frame outside the library and the packages it calls through (scikit-learn, joblib,
Keras, scikeras, iterative-stratification), so that a warning raised deep inside a
cross-validation names the user's ``cross_val_score(...)`` line, not a library source line."""

import os
import sys
import warnings

_THROUGH = ("hpa_sklearn", "sklearn", "joblib", "keras", "scikeras", "iterstrat")


def _inside(filename):
    parts = filename.replace("\\", "/").split("/")
    return any(package in parts for package in _THROUGH) or filename.startswith("<frozen")


def warn(message, category=UserWarning):
    """``warnings.warn(message, category)`` reported at the caller's first line outside the
    library (and the packages it calls through)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and _inside(os.path.abspath(frame.f_code.co_filename)):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1 if frame is not None else 2)
