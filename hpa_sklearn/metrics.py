"""Scores for multi-label predictions: macro F1 (the competition's metric), per-class tables, a
bootstrap confidence interval, and F1 as a function of the decision threshold.

Macro F1 is the mean over the label columns of each column's F1 = 2 TP / (2 TP + FP + FN), where a
column with neither a true nor a predicted positive scores 0 (``zero_division=0``): the value of
:func:`sklearn.metrics.f1_score` with ``average="macro", zero_division=0`` on indicator matrices.
Every function here computes F1 from the same per-column counts, so that a matrix with a single
label column is scored as one label too (``f1_score`` would read it as a binary target and average
the F1 of its 0s and its 1s).

:func:`f1_threshold_curves` is the one implementation of the per-class threshold search; the
:class:`~hpa_sklearn.thresholds.MultilabelThresholdTuner` uses it.
"""

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import make_scorer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._validation import check_label_matrix
from ._constants import CLASS_NAMES, N_CLASSES
from .exceptions import InputError

__all__ = [
    "BootstrapResult",
    "bootstrap_macro_f1",
    "f1_threshold_curves",
    "macro_f1",
    "macro_f1_scorer",
    "per_class_f1",
    "per_class_scores",
]


# Replicates of the bootstrap are computed in blocks of about this many (replicate, sample) cells.
_BOOTSTRAP_BLOCK_CELLS = 2**22


def class_names_of(n_labels):
    """The competition's class names when there are 28 labels, else ``"class <j>"``."""
    if n_labels == N_CLASSES:
        return list(CLASS_NAMES)
    return [f"class {j}" for j in range(n_labels)]


def _check_pair(Y_true, Y_pred):
    Y_true = check_label_matrix(Y_true, name="Y_true")
    Y_pred = check_label_matrix(Y_pred, name="Y_pred", n_samples=Y_true.shape[0])
    if Y_pred.shape[1] != Y_true.shape[1]:
        raise InputError(
            f"Y_true has {Y_true.shape[1]} label columns but Y_pred has {Y_pred.shape[1]}; "
            "they must match."
        )
    return Y_true, Y_pred


def _f1_from_counts(tp, n_true, n_pred):
    """F1 = 2 TP / (n_true + n_pred), 0 where the denominator is 0 (``zero_division=0``)."""
    denominator = n_true + n_pred
    return np.divide(2.0 * tp, denominator, out=np.zeros(np.shape(tp)), where=denominator > 0)


def _label_counts(Y_true, Y_pred, sample_weight=None):
    """(weighted) true positives, true counts and predicted counts of each label column."""
    Y_true, Y_pred = _check_pair(Y_true, Y_pred)
    hits = Y_true & Y_pred
    if sample_weight is None:
        return tuple(
            Y.sum(axis=0, dtype=np.float64) for Y in (hits, Y_true, Y_pred)
        )
    weights = np.asarray(sample_weight, dtype=float)
    if weights.shape != (Y_true.shape[0],):
        raise InputError(
            f"sample_weight must have shape ({Y_true.shape[0]},); got {weights.shape}."
        )
    return tuple(weights @ Y for Y in (hits, Y_true, Y_pred))


def per_class_f1(Y_true, Y_pred, *, sample_weight=None):
    """F1 of each label column (``zero_division=0``).

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        0/1 indicator matrices.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each row in the counts.

    Returns
    -------
    f1 : ndarray of shape (n_labels,)
        Its mean is the macro F1.

    Examples
    --------
    >>> from hpa_sklearn.metrics import per_class_f1
    >>> per_class_f1([[1, 0], [1, 1]], [[1, 0], [0, 0]])
    array([0.66666667, 0.        ])
    """
    return _f1_from_counts(*_label_counts(Y_true, Y_pred, sample_weight))


def macro_f1(Y_true, Y_pred, *, sample_weight=None):
    """Macro F1: the mean of the per-label F1 scores (``zero_division=0``).

    Equals ``sklearn.metrics.f1_score(Y_true, Y_pred, average="macro", zero_division=0)`` on
    indicator matrices, and treats a single column as one label.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        0/1 indicator matrices.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each row in the counts.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from hpa_sklearn.metrics import macro_f1
    >>> macro_f1([[1, 0], [1, 1]], [[1, 0], [0, 0]])
    0.3333333333333333
    """
    return float(per_class_f1(Y_true, Y_pred, sample_weight=sample_weight).mean())


#: Scorer for ``GridSearchCV``, ``cross_val_score``, ...: :func:`macro_f1` of
#: ``estimator.predict(X)`` (``zero_division=0``).
macro_f1_scorer = make_scorer(macro_f1)


def per_class_scores(Y_true, Y_pred, *, class_names=None):
    """Precision, recall, F1, support and predicted count of every label, as a table.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        0/1 indicator matrices.
    class_names : sequence of str, default=None
        Row labels; by default the competition's names when there are 28 labels.

    Returns
    -------
    table : pandas.DataFrame
        One row per label, columns ``precision``, ``recall``, ``f1`` (``zero_division=0``),
        ``support`` (true positives + false negatives) and ``predicted`` (predicted positives).

    Examples
    --------
    >>> from hpa_sklearn.metrics import per_class_scores
    >>> per_class_scores(  # doctest: +NORMALIZE_WHITESPACE
    ...     [[1, 0], [1, 1]], [[1, 0], [0, 0]], class_names=["a", "b"]
    ... )
           precision  recall        f1  support  predicted
    class
    a            1.0     0.5  0.666667        2          1
    b            0.0     0.0  0.000000        1          0
    """
    tp, n_true, n_pred = _label_counts(Y_true, Y_pred)
    n_labels = tp.size
    if class_names is None:
        class_names = class_names_of(n_labels)
    elif len(class_names) != n_labels:
        raise InputError(
            f"class_names has {len(class_names)} names but there are {n_labels} label columns."
        )
    return pd.DataFrame(
        {
            "precision": np.divide(tp, n_pred, out=np.zeros(n_labels), where=n_pred > 0),
            "recall": np.divide(tp, n_true, out=np.zeros(n_labels), where=n_true > 0),
            "f1": _f1_from_counts(tp, n_true, n_pred),
            "support": n_true.astype(np.int64),
            "predicted": n_pred.astype(np.int64),
        },
        index=pd.Index(list(class_names), name="class"),
    )


class BootstrapResult(NamedTuple):
    """Macro F1 with its bootstrap percentile confidence interval."""

    score: float
    """Macro F1 on the whole sample."""
    low: float
    """Lower end of the interval."""
    high: float
    """Upper end of the interval."""
    replicates: np.ndarray
    """Macro F1 of each bootstrap replicate, shape (n_boot,)."""


@validate_params(
    {
        "Y_true": ["array-like"],
        "Y_pred": ["array-like"],
        "n_boot": [Interval(Integral, 1, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def bootstrap_macro_f1(Y_true, Y_pred, *, n_boot=1000, confidence_level=0.95, random_state=None):
    """Macro F1 and a percentile bootstrap confidence interval over samples.

    Each replicate resamples the rows with replacement and recomputes the macro F1 over all label
    columns; a column with no true and no predicted positive in a replicate (a rare class that
    the draw missed) scores 0, as with ``zero_division=0``. Replicates are computed together from
    per-row counts (one matrix product per block), not one ``f1_score`` call each.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        0/1 indicator matrices.
    n_boot : int, default=1000
        Number of bootstrap replicates.
    confidence_level : float, default=0.95
        Coverage of the interval, between the ``(1 - level) / 2`` and ``(1 + level) / 2``
        percentiles of the replicates.
    random_state : int, RandomState instance or None, default=None
        Seed of the resampling.

    Returns
    -------
    result : BootstrapResult
        ``(score, low, high, replicates)``.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.metrics import bootstrap_macro_f1
    >>> rng = np.random.RandomState(0)
    >>> Y = rng.binomial(1, 0.3, size=(500, 4))
    >>> Y_pred = np.where(rng.rand(500, 4) < 0.8, Y, 1 - Y)
    >>> result = bootstrap_macro_f1(Y, Y_pred, n_boot=200, random_state=0)
    >>> bool(result.low < result.score < result.high)
    True
    """
    Y_true, Y_pred = _check_pair(Y_true, Y_pred)
    n_samples = Y_true.shape[0]
    rng = check_random_state(random_state)
    true = Y_true.astype(np.float64)
    pred = Y_pred.astype(np.float64)
    hits = true * pred

    score = macro_f1(Y_true, Y_pred)
    replicates = np.empty(n_boot)
    block = max(1, _BOOTSTRAP_BLOCK_CELLS // n_samples)
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        draws = rng.randint(0, n_samples, size=(size, n_samples))
        # weights[b, i] = how many times replicate b drew row i
        offsets = (np.arange(size) * n_samples)[:, None]
        weights = np.bincount((draws + offsets).ravel(), minlength=size * n_samples)
        weights = weights.reshape(size, n_samples).astype(np.float64)
        f1 = _f1_from_counts(weights @ hits, weights @ true, weights @ pred)
        replicates[start : start + size] = f1.mean(axis=1)

    tail = 100 * (1 - confidence_level) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return BootstrapResult(score, float(low), float(high), replicates)


def candidate_thresholds(y_score, thresholds):
    """Candidate thresholds (n_candidates, n_labels), ascending in each column, for an int or an
    array ``thresholds`` (the ``"exact"`` case is handled by the caller)."""
    if isinstance(thresholds, Integral):
        # like scikit-learn's TunedThresholdClassifierCV: evenly spaced over the observed scores
        return np.linspace(y_score.min(axis=0), y_score.max(axis=0), num=thresholds)
    values = np.unique(np.asarray(thresholds, dtype=float))
    return np.broadcast_to(values[:, None], (values.size, y_score.shape[1]))


def check_threshold_grid(thresholds):
    """Validate the ``thresholds`` argument beyond its type (shared with the tuner)."""
    if isinstance(thresholds, (str, Integral)):
        return thresholds
    values = np.asarray(thresholds, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise InputError(
            "thresholds must be an int, 'exact' or a non-empty 1-D array of finite values; "
            f"got {thresholds!r}."
        )
    return values


@validate_params(
    {
        "Y_true": ["array-like"],
        "y_score": ["array-like"],
        "thresholds": [
            Interval(Integral, 2, None, closed="left"),
            StrOptions({"exact"}),
            "array-like",
        ],
    },
    prefer_skip_nested_validation=True,
)
def f1_threshold_curves(Y_true, y_score, *, thresholds=100):
    """F1 of each label at every candidate threshold, computed from one sort per label.

    A label is predicted when ``score >= threshold`` (the library's rule, see
    ``hpa_sklearn._decision.apply_thresholds``). Each column of scores is sorted once; the
    cumulative count of positives below each candidate gives TP and the number of predicted
    positives at every threshold at once, and F1 = 2 TP / (n_true + n_predicted), 0 where that is
    0/0. No prediction matrix is built per threshold.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels)
        0/1 indicator matrix.
    y_score : array-like of shape (n_samples, n_labels)
        Scores, e.g. probabilities (``hpa_sklearn._decision.positive_proba`` turns a
        ``MultiOutputClassifier``'s list into this shape).
    thresholds : int, "exact" or array-like of shape (n_candidates,), default=100
        Candidates: an int ``m`` gives ``m`` evenly spaced values from the smallest to the
        largest score of each label (as scikit-learn's ``TunedThresholdClassifierCV``);
        ``"exact"`` gives every observed score of each label, which contains the exact F1
        optimum (rows repeat where scores tie); an array gives the same values for every label.

    Returns
    -------
    thresholds : ndarray of shape (n_candidates, n_labels)
        Candidates, ascending in each column.
    f1 : ndarray of shape (n_candidates, n_labels)
        F1 of each label at each candidate (``zero_division=0``).

    Examples
    --------
    >>> from hpa_sklearn.metrics import f1_threshold_curves
    >>> Y = [[1], [0], [1], [0]]
    >>> scores = [[0.9], [0.8], [0.4], [0.1]]
    >>> t, f1 = f1_threshold_curves(Y, scores, thresholds=[0.3, 0.5, 0.85])
    >>> f1.ravel().round(3).tolist()
    [0.8, 0.5, 0.667]
    """
    thresholds = check_threshold_grid(thresholds)
    y_score = np.asarray(y_score, dtype=float)
    Y_true = check_label_matrix(Y_true, name="Y_true", n_samples=y_score.shape[0])
    if y_score.shape != Y_true.shape:
        raise InputError(
            f"y_score has shape {y_score.shape} but Y_true has shape {Y_true.shape}; "
            "they must match."
        )
    if not np.all(np.isfinite(y_score)):
        raise InputError("y_score contains NaN or infinite values.")
    n_samples, n_labels = y_score.shape

    # one row per label (contiguous): sorting and cumulating along rows is cache-friendly.
    # The sort need not be stable: counts are only read at the boundaries of tie groups.
    scores = np.ascontiguousarray(y_score.T)
    order = np.argsort(scores, axis=1)
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    # positives_below[j, k]: positives of label j among its k smallest scores
    positives_below = np.zeros((n_labels, n_samples + 1))
    np.cumsum(
        np.take_along_axis(np.ascontiguousarray(Y_true.T), order, axis=1),
        axis=1,
        out=positives_below[:, 1:],
    )

    if isinstance(thresholds, str):  # "exact": every observed score
        candidates = sorted_scores
        first_of_tie = np.ones_like(sorted_scores, dtype=bool)
        first_of_tie[:, 1:] = sorted_scores[:, 1:] != sorted_scores[:, :-1]
        # number of scores strictly below each candidate = index of its tie group's first one
        n_below = np.maximum.accumulate(
            np.where(first_of_tie, np.arange(n_samples), 0), axis=1
        )
    else:
        candidates = candidate_thresholds(y_score, thresholds).T
        n_below = np.stack(
            [
                np.searchsorted(sorted_scores[j], candidates[j], side="left")
                for j in range(n_labels)
            ]
        )

    n_true = positives_below[:, -1:]
    tp = n_true - np.take_along_axis(positives_below, n_below, axis=1)
    f1 = _f1_from_counts(tp, n_true, n_samples - n_below)
    return np.array(candidates.T), f1.T
