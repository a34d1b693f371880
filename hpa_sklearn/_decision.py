"""From probabilities to 0/1 labels: the one place where a threshold is applied.

Convention for the whole library: label ``j`` is predicted when ``proba[:, j] >= threshold[j]``.
"""

import numpy as np

from ._validation import check_thresholds
from .exceptions import InputError


def positive_proba(raw):
    """Turn what an estimator's ``predict_proba`` returns into an ``(n_samples, n_labels)`` array.

    Accepts the matrix our estimators return, and the list of ``(n_samples, 2)`` arrays that
    scikit-learn's multi-output wrappers (``MultiOutputClassifier``) return; takes the positive
    column of each.
    """
    if isinstance(raw, (list, tuple)):
        columns = []
        for j, p in enumerate(raw):
            p = np.asarray(p)
            if p.ndim != 2 or p.shape[1] > 2:
                raise InputError(
                    f"predict_proba returned a list whose element {j} has shape {p.shape}; "
                    "expected (n_samples, 2) per label."
                )
            # a label seen with one class only during fit has a single column
            columns.append(p[:, -1] if p.shape[1] == 2 else np.zeros(p.shape[0]))
        return np.column_stack(columns)
    proba = np.asarray(raw)
    if proba.ndim == 1:
        proba = proba[None, :]
    if proba.ndim != 2:
        raise InputError(
            f"predict_proba returned shape {proba.shape}; expected (n_samples, n_labels)."
        )
    return proba


def apply_thresholds(proba, threshold=0.5, *, at_least_one_label=False):
    """Return the 0/1 (uint8) label matrix ``proba >= threshold``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_labels)
    threshold : float or array of shape (n_labels,)
    at_least_one_label : bool
        Every HPA sample has at least one label: a row with no label above its threshold gets the label
        with the highest ``proba / threshold`` ratio (the one closest to its own threshold).
    """
    proba = np.asarray(proba)
    thresholds = check_thresholds(threshold, proba.shape[1])
    labels = (proba >= thresholds).astype(np.uint8)
    if at_least_one_label:
        empty = ~labels.any(axis=1)
        if empty.any():
            ratio = proba[empty] / np.maximum(thresholds, 1e-12)
            labels[np.flatnonzero(empty), np.argmax(ratio, axis=1)] = 1
    return labels
