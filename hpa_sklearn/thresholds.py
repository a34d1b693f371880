"""Per-class decision thresholds tuned on out-of-fold probabilities: :class:`MultilabelThresholdTuner`.

scikit-learn's :class:`~sklearn.model_selection.TunedThresholdClassifierCV` tunes one threshold of a
binary classifier. Macro F1 is the mean of the per-class F1 scores and class ``j``'s F1 depends only
on class ``j``'s threshold, so maximizing each class's F1 on its own maximizes the macro F1 exactly:
the tuner fits the estimator once per fold, pools the out-of-fold probabilities, and searches all 28
thresholds at once (:func:`hpa_sklearn.metrics.f1_threshold_curves`).

That optimum is exact on the rows it is tuned on, not on new data: a class with two or three
positives among them gets a threshold fitted to those few rows (often a tiny one that predicts the
class for most images). Three options make the thresholds hold on new data, alone or together:
``n_bootstrap`` averages the thresholds chosen on bootstrap resamples of the tuning rows,
``min_positives`` keeps ``default_threshold`` for a class with fewer positives than that, and
``prior_strength`` shrinks each threshold toward ``default_threshold`` with a weight that falls as
the class's number of positives grows.
"""

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, _num_samples, check_is_fitted

from ._decision import apply_thresholds, positive_proba
from ._model_api import _ModelMethods
from ._validation import check_label_matrix
from ._warnings import warn
from .ensemble import HPAFoldEnsemble
from .exceptions import InputError
from .metrics import (
    _f1_from_counts,
    candidate_thresholds,
    check_threshold_grid,
    class_names_of,
    f1_threshold_curves,
    macro_f1,
)
from .model_selection import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit

__all__ = ["MultilabelThresholdTuner"]

# Bootstrap replicates are processed in blocks of about this many (replicate, label, row) cells.
_BOOTSTRAP_BLOCK_CELLS = 2**21


def _predict_positive_proba(estimator, X, n_labels):
    """``positive_proba(estimator.predict_proba(X))``, checked to have one column per label."""
    proba = positive_proba(estimator.predict_proba(X))
    if proba.shape != (_num_samples(X), n_labels):
        raise InputError(
            f"{type(estimator).__name__}.predict_proba gave probabilities of shape {proba.shape} "
            f"for {_num_samples(X)} samples; expected ({_num_samples(X)}, {n_labels}), one column "
            "per label of Y."
        )
    return proba


def _fit_fold(estimator, X, Y, train, test, fit_params, keep_estimator):
    """Fit ``estimator`` on the ``train`` rows; return it (if kept) and its probabilities on ``test``."""
    estimator.fit(
        _safe_indexing(X, train), Y[train], **_check_method_params(X, fit_params, indices=train)
    )
    proba = _predict_positive_proba(estimator, _safe_indexing(X, test), Y.shape[1])
    return (estimator if keep_estimator else None), proba


def _label_frequency_thresholds(Y, proba):
    """Per label, the k-th largest score, k = the label's number of positives in ``Y``: predicting
    ``proba >= threshold`` marks k rows (more only where scores tie). Labels with k = 0 get NaN."""
    n_samples = Y.shape[0]
    n_positive = Y.sum(axis=0, dtype=np.int64)
    sorted_scores = np.sort(proba, axis=0)
    rows = np.clip(n_samples - n_positive, 0, n_samples - 1)
    thresholds = sorted_scores[rows, np.arange(Y.shape[1])]
    return np.where(n_positive > 0, thresholds, np.nan)


def _bootstrap_thresholds(Y, proba, *, scoring, thresholds, default_threshold, n_bootstrap,
                          random_state):
    """The threshold ``scoring`` picks for each label on each of ``n_bootstrap`` resamples (rows
    drawn with replacement) of ``Y, proba``: shape (n_bootstrap, n_labels).

    The result equals running the plain rule (``f1_threshold_curves`` + first maximum, or the
    label-frequency rule) on ``Y[rows], proba[rows]`` for each resample, with
    ``default_threshold`` for a label that has no positive in the resample. No resample is
    copied or sorted: each label's scores are sorted once, and a resample is a vector of row
    counts, whose cumulative sums in that order give the number of drawn rows below every
    candidate; drawn positives are summed the same way over each label's positives only.
    Replicates are processed in blocks.
    """
    n_samples, n_labels = Y.shape
    rng = check_random_state(random_state)
    scores = np.ascontiguousarray(proba.T)
    order = np.argsort(scores, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)  # (n_labels, n_samples)
    sorted_true = np.take_along_axis(np.ascontiguousarray(Y.T), order, axis=1).astype(bool)
    # positives_before[j, k]: positives of label j among its k smallest scores
    positives_before = np.zeros((n_labels, n_samples + 1), dtype=np.int64)
    np.cumsum(sorted_true, axis=1, out=positives_before[:, 1:])
    # every label's positive rows in ascending score order, one segment per label
    positive_rows = order[sorted_true]
    segment_start = np.concatenate([[0], np.cumsum(positives_before[:, -1])])
    label_index = np.arange(n_labels)[:, None]
    if isinstance(thresholds, str):  # "exact": index of the first score of each tie group
        first_of_tie = np.ones_like(sorted_scores, dtype=bool)
        first_of_tie[:, 1:] = sorted_scores[:, 1:] != sorted_scores[:, :-1]
        tie_start = np.maximum.accumulate(
            np.where(first_of_tie, np.arange(n_samples), 0), axis=1
        )
    elif not isinstance(thresholds, Integral):  # the same candidates for every replicate
        grid = candidate_thresholds(proba, thresholds).T  # (n_labels, n_candidates)
        grid_below = np.stack(
            [np.searchsorted(sorted_scores[j], grid[j], side="left") for j in range(n_labels)]
        )

    def drawn_positives_below(cumulative, below):
        """Drawn positives of each label among its ``below`` smallest scores."""
        index = segment_start[:-1, None] + positives_before[label_index, below]
        shape = np.broadcast_shapes(index.shape, (cumulative.shape[0], 1, 1))
        index = np.broadcast_to(index, shape).reshape(shape[0], -1)
        at = np.take_along_axis(cumulative, index, axis=1).reshape(shape)
        return at - cumulative[:, segment_start[:-1]][..., None]

    chosen = np.empty((n_bootstrap, n_labels))
    block = max(1, _BOOTSTRAP_BLOCK_CELLS // (n_samples * n_labels))
    for start in range(0, n_bootstrap, block):
        size = min(block, n_bootstrap - start)
        draws = rng.randint(0, n_samples, size=(size, n_samples))
        offsets = (np.arange(size) * n_samples)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=size * n_samples)
        # (integer counts: exact, and half the memory traffic of float64)
        counts = counts.reshape(size, n_samples).astype(np.int32)
        # drawn[b, j, k]: rows of resample b among label j's k smallest scores
        weights = np.take(counts, order, axis=1)  # (size, n_labels, n_samples)
        drawn = np.zeros((size, n_labels, n_samples + 1), dtype=np.int32)
        np.cumsum(weights, axis=2, out=drawn[..., 1:])
        # the same over each label's positives only (a segment per label)
        drawn_positives = np.zeros((size, positive_rows.size + 1), dtype=np.int32)
        np.cumsum(np.take(counts, positive_rows, axis=1), axis=1, out=drawn_positives[:, 1:])
        n_true = (drawn_positives[:, segment_start[1:]]
                  - drawn_positives[:, segment_start[:-1]]).astype(np.float64)

        if scoring == "label_frequency":
            # the k-th largest drawn score (k = drawn positives, counted with repetition): the
            # last position whose drawn rows at or above it number at least k
            at_or_above = n_samples - drawn[..., :-1]
            position = (at_or_above >= n_true[..., None]).sum(axis=2) - 1
            best = sorted_scores[label_index.T, position]
        else:
            if isinstance(thresholds, str):
                below = tie_start
                candidates = np.broadcast_to(sorted_scores, weights.shape)
            elif isinstance(thresholds, Integral):
                # evenly spaced from the smallest to the largest drawn score of each label
                present = weights > 0
                low = sorted_scores[label_index.T, present.argmax(axis=2)]
                high = sorted_scores[
                    label_index.T, n_samples - 1 - present[..., ::-1].argmax(axis=2)
                ]
                candidates = np.moveaxis(np.linspace(low, high, num=thresholds), 0, -1)
                below = np.stack(
                    [
                        np.searchsorted(sorted_scores[j], candidates[:, j], side="left")
                        for j in range(n_labels)
                    ],
                    axis=1,
                )
            else:
                below = grid_below
                candidates = np.broadcast_to(grid, (size, *grid.shape))
            full_below = np.broadcast_to(below, (size, *below.shape[-2:]))
            n_below = np.take_along_axis(drawn, full_below, axis=2).astype(np.float64)
            tp = n_true[..., None] - drawn_positives_below(drawn_positives, below)
            f1 = _f1_from_counts(tp, n_true[..., None], n_samples - n_below)
            if isinstance(thresholds, str):
                f1[weights == 0] = -1.0  # a score that was not drawn is no candidate
            # argmax returns the first maximum: the smallest of the best candidates
            best = np.take_along_axis(candidates, f1.argmax(axis=2)[..., None], axis=2)[..., 0]
        chosen[start : start + size] = np.where(n_true > 0, best, default_threshold)
    return chosen


class MultilabelThresholdTuner(_ModelMethods, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Multi-label classifier whose per-class thresholds are tuned on out-of-fold probabilities.

    The multi-label counterpart of scikit-learn's binary
    :class:`~sklearn.model_selection.TunedThresholdClassifierCV`. ``fit`` fits a clone of
    ``estimator`` once per cross-validation fold (multilabel-stratified by default), pools the
    probabilities each fold model gives its held-out rows, picks one threshold per class on them,
    then refits ``estimator`` on all the data (or keeps the fold models as an averaging
    ensemble). ``predict`` marks label ``j`` when ``predict_proba(X)[:, j] >= best_thresholds_[j]``.

    Read more in the module's docstring.

    Parameters
    ----------
    estimator : estimator instance
        A multi-label classifier with ``fit(X, Y)`` and ``predict_proba(X)`` returning an
        ``(n_samples, n_labels)`` array or, as ``MultiOutputClassifier`` does, a list of
        ``(n_samples, 2)`` arrays.

    scoring : {"f1", "label_frequency"}, default="f1"
        How each class's threshold is chosen from its out-of-fold probabilities:

        - ``"f1"``: the candidate with the highest F1 for that class. Maximizing every class's F1
          maximizes the macro F1 exactly. Ties go to the **smallest** threshold among those with
          the highest F1 (the first one in ascending order, as ``TunedThresholdClassifierCV``).
        - ``"label_frequency"``: the threshold at which the class is predicted for as many
          out-of-fold rows as it has positives in ``Y`` (the ``k``-th largest probability for a
          class with ``k`` positives; more rows only where probabilities tie). No metric is
          optimized; ``thresholds`` is unused.

        Only per-class objectives can be tuned one class at a time, hence no other scorers.

    thresholds : int, "exact" or array-like of shape (n_candidates,), default=100
        Candidate thresholds for ``scoring="f1"``: an int ``m`` gives ``m`` evenly spaced values
        from the smallest to the largest out-of-fold probability of each class; ``"exact"`` gives
        every observed out-of-fold probability of each class, which contains the exact optimum;
        an array gives the same candidates to every class.

    cv : int, float, cross-validation generator, iterable or "prefit", default=5
        Where the out-of-fold probabilities come from:

        - int: that many folds of :class:`~hpa_sklearn.model_selection.MultilabelStratifiedKFold`
          seeded with ``random_state``;
        - float in (0, 1): one
          :class:`~hpa_sklearn.model_selection.MultilabelStratifiedShuffleSplit` with that
          validation fraction, seeded with ``random_state``; thresholds are tuned on the
          validation rows;
        - a splitter or an iterable of ``(train, test)`` index arrays; rows in several test
          folds get the mean of their probabilities, rows in none are left out of the tuning;
        - ``"prefit"``: ``estimator`` is already fitted (on other data) and is used as is; the
          thresholds are tuned on its probabilities for the ``X, Y`` given to ``fit``.
          Requires ``refit=False``.

    refit : bool, default=True
        ``True``: after tuning, fit a clone of ``estimator`` on all of ``X, Y``.
        ``False``: keep the fold models and average their probabilities at predict time (the
        competition winners' fold ensemble): no extra fit, ``n_splits`` models to predict with.

    at_least_one_label : bool, default=False
        Every HPA image has at least one label: a row with no probability above its class's
        threshold gets the class with the highest ``probability / threshold``. Used by
        ``predict`` and ``score``, and in ``best_score_``.

    default_threshold : float, default=0.5
        The threshold of a class without a positive among the rows the thresholds are tuned on
        (nothing to tune it on): the untuned 0.5 rule. A warning names such classes. Also the
        threshold of a class with fewer than ``min_positives`` positives, and the value
        ``prior_strength`` shrinks toward.

    n_bootstrap : int or None, default=None
        ``None``: each class's threshold is chosen once, on the tuning rows. An int ``B``: it is
        the mean of the thresholds ``scoring`` chooses on ``B`` bootstrap resamples of the tuning
        rows (rows drawn with replacement, the same draw for every class, seeded by
        ``random_state``); a resample holding no positive of a class contributes
        ``default_threshold``. Averaging smooths the jumps of a class's F1 curve, whose optimum
        on a few positives depends on which few were drawn.

    min_positives : int, default=1
        A class with fewer positives than this among the tuning rows keeps
        ``default_threshold`` (1: only classes without any positive do). The threshold of a
        class with two or three positives is fitted to those rows, not to the class.

    prior_strength : float, default=0.0
        Shrinkage toward ``default_threshold``, in positives: a class with ``n`` positives gets
        ``(n * t + prior_strength * default_threshold) / (n + prior_strength)``, where ``t`` is
        its tuned threshold. 0 means no shrinkage; rare classes move most.

        With ``scoring="f1"``, ``n_bootstrap=None``, ``min_positives=1`` and
        ``prior_strength=0`` (the defaults) the thresholds maximize the macro F1 on the tuning
        rows exactly; the three options trade some of that for thresholds that hold on new data.

    n_jobs : int, default=None
        Folds fitted in parallel (joblib). ``None`` means 1 unless in a joblib context.

    random_state : int, RandomState instance or None, default=None
        Seed of the folds when ``cv`` is an int or a float, and of the resamples when
        ``n_bootstrap`` is set (same seed, same folds and resamples, same thresholds).

    store_cv_results : bool, default=False
        Keep the F1 of every class at every candidate threshold in ``cv_results_`` (and the
        thresholds of every bootstrap resample).

    verbose : int, default=0
        joblib's progress messages about the fold fits (0: silent).

    Attributes
    ----------
    estimator_ : estimator instance
        What ``predict_proba`` calls: the refitted estimator (``refit=True``), the prefitted
        ``estimator`` (``cv="prefit"``), or a fold ensemble whose ``estimators_`` holds the fold
        models and whose ``predict_proba`` averages theirs (``refit=False``).

    best_thresholds_ : ndarray of shape (n_labels,)
        The threshold of each class.

    best_score_ : float
        Macro F1 (``zero_division=0``) on the out-of-fold rows of the predictions ``predict``
        would make there (thresholds and, if set, ``at_least_one_label``). With the default
        options and ``scoring="f1"`` it is the highest macro F1 of the candidates on those rows
        (``at_least_one_label`` aside); ``n_bootstrap``, ``min_positives`` and
        ``prior_strength`` give up some of it there, for thresholds that hold on new data.

    cv_results_ : dict of ndarray
        Only with ``store_cv_results=True``: ``"thresholds"`` and ``"scores"`` (the F1 on the
        tuning rows), both of shape (n_candidates, n_labels), candidates ascending in each
        column; ``"n_positives"``, shape (n_labels,), each class's positives among the tuning
        rows; with ``n_bootstrap``, ``"bootstrap_thresholds"`` of shape (n_bootstrap, n_labels),
        the threshold chosen on each resample (their mean, before ``min_positives`` and
        ``prior_strength``, is the tuned threshold).

    classes_ : ndarray of shape (n_labels,)
        The label indices ``0 .. n_labels - 1`` (the columns of ``Y``).

    n_features_in_ : int
        Number of features seen during ``fit``, where the estimator records it.

    See Also
    --------
    sklearn.model_selection.TunedThresholdClassifierCV : The binary-only original.
    hpa_sklearn.metrics.f1_threshold_curves : The per-class F1 at every candidate threshold.
    hpa_sklearn.model_selection.MultilabelStratifiedKFold : The default folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multioutput import MultiOutputClassifier
    >>> from hpa_sklearn.thresholds import MultilabelThresholdTuner
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(400, 5))
    >>> Y = (X[:, :3] + rng.normal(size=(400, 3)) > [0.5, 1.5, 2.0]).astype(int)
    >>> tuner = MultilabelThresholdTuner(
    ...     MultiOutputClassifier(LogisticRegression()), cv=3, random_state=0
    ... ).fit(X, Y)
    >>> tuner.best_thresholds_.shape
    (3,)
    >>> tuner.predict(X[:2]).shape
    (2, 3)

    Thresholds averaged over 100 bootstrap resamples of the out-of-fold rows, which hold better
    on new data when some classes have few positives:

    >>> robust = MultilabelThresholdTuner(
    ...     MultiOutputClassifier(LogisticRegression()), cv=3, n_bootstrap=100, random_state=0
    ... ).fit(X, Y)
    >>> robust.best_thresholds_.shape
    (3,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "scoring": [StrOptions({"f1", "label_frequency"})],
        "thresholds": [
            Interval(Integral, 2, None, closed="left"),
            StrOptions({"exact"}),
            "array-like",
        ],
        "cv": [
            "cv_object",
            StrOptions({"prefit"}),
            Interval(RealNotInt, 0.0, 1.0, closed="neither"),
        ],
        "refit": ["boolean"],
        "at_least_one_label": ["boolean"],
        "default_threshold": [Real],
        "n_bootstrap": [Interval(Integral, 1, None, closed="left"), None],
        "min_positives": [Interval(Integral, 1, None, closed="left")],
        "prior_strength": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "store_cv_results": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        scoring="f1",
        thresholds=100,
        cv=5,
        refit=True,
        at_least_one_label=False,
        default_threshold=0.5,
        n_bootstrap=None,
        min_positives=1,
        prior_strength=0.0,
        n_jobs=None,
        random_state=None,
        store_cv_results=False,
        verbose=0,
    ):
        self.estimator = estimator
        self.scoring = scoring
        self.thresholds = thresholds
        self.cv = cv
        self.refit = refit
        self.at_least_one_label = at_least_one_label
        self.default_threshold = default_threshold
        self.n_bootstrap = n_bootstrap
        self.min_positives = min_positives
        self.prior_strength = prior_strength
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.store_cv_results = store_cv_results
        self.verbose = verbose

    def _splitter(self):
        if isinstance(self.cv, Real) and not isinstance(self.cv, Integral):
            return MultilabelStratifiedShuffleSplit(
                n_splits=1, test_size=self.cv, random_state=self.random_state
            )
        if self.cv is None or isinstance(self.cv, Integral):
            n_splits = 5 if self.cv is None else self.cv
            return MultilabelStratifiedKFold(
                n_splits=n_splits, shuffle=True, random_state=self.random_state
            )
        return check_cv(self.cv)

    def _out_of_fold_proba(self, X, Y, fit_params):
        """Fit one clone per fold; return the fold models (or None), the out-of-fold rows and
        their probabilities (averaged over the folds that held a row out)."""
        splits = list(self._splitter().split(X, Y))
        results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fit_fold)(
                clone(self.estimator), X, Y, train, test, fit_params, not self.refit
            )
            for train, test in splits
        )
        n_samples, n_labels = Y.shape
        total = np.zeros((n_samples, n_labels))
        count = np.zeros(n_samples, dtype=np.int64)
        for (_, test), (_, proba) in zip(splits, results):
            total[test] += proba
            count[test] += 1
        rows = np.flatnonzero(count)
        if rows.size == 0:
            raise InputError(f"cv={self.cv!r} gave no held-out row to tune the thresholds on.")
        models = [model for model, _ in results] if not self.refit else None
        return models, rows, total[rows] / count[rows, None]

    def _choose_thresholds(self, Y, proba):
        n_labels = Y.shape[1]
        n_positives = Y.sum(axis=0, dtype=np.int64)
        if self.scoring == "f1" or self.store_cv_results:
            candidates, scores = f1_threshold_curves(Y, proba, thresholds=self.thresholds)
        if self.n_bootstrap is not None:
            resampled = _bootstrap_thresholds(
                Y, proba, scoring=self.scoring, thresholds=self.thresholds,
                default_threshold=float(self.default_threshold), n_bootstrap=self.n_bootstrap,
                random_state=self.random_state,
            )
            best = resampled.mean(axis=0)
        elif self.scoring == "f1":
            # argmax returns the first maximum: the smallest of the best candidates
            best = candidates[scores.argmax(axis=0), np.arange(n_labels)]
        else:
            best = _label_frequency_thresholds(Y, proba)
        untunable = np.flatnonzero(n_positives == 0)
        if untunable.size:
            names = class_names_of(n_labels)
            listed = ", ".join(f"{j} ({names[j]})" for j in untunable)
            warn(
                f"No positive sample of class(es) {listed} among the {Y.shape[0]} rows the "
                f"thresholds are tuned on; their threshold is default_threshold="
                f"{self.default_threshold}.",
                UserWarning,
            )
        best = np.where(n_positives < self.min_positives, self.default_threshold, best)
        if self.prior_strength > 0:
            weight = n_positives / (n_positives + self.prior_strength)
            best = weight * best + (1 - weight) * self.default_threshold
        self.best_thresholds_ = best.astype(np.float64)
        if self.store_cv_results:
            self.cv_results_ = {
                "thresholds": candidates, "scores": scores, "n_positives": n_positives
            }
            if self.n_bootstrap is not None:
                self.cv_results_["bootstrap_thresholds"] = resampled

    @_fit_context(
        # the inner estimator's parameters are validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, Y, **fit_params):
        """Fit the fold models, tune the thresholds, and refit (or keep the fold ensemble).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training samples, as the estimator accepts them (e.g. images (n, H, W, C)).
        Y : array-like of shape (n_samples, n_labels)
            0/1 indicator matrix.
        **fit_params : dict
            Passed to the estimator's ``fit`` (sample-aligned arrays are sliced per fold).

        Returns
        -------
        self : object
            The fitted tuner.
        """
        Y = check_label_matrix(Y, n_samples=_num_samples(X))
        check_threshold_grid(self.thresholds)
        if not np.isfinite(self.default_threshold):
            raise InputError(
                f"default_threshold must be finite; got {self.default_threshold!r}."
            )

        if isinstance(self.cv, str):  # "prefit"
            if self.refit:
                raise InputError(
                    "cv='prefit' uses the fitted estimator as is, so refit must be False; "
                    "got refit=True."
                )
            if fit_params:
                raise InputError(
                    f"cv='prefit' fits nothing, so fit parameters {sorted(fit_params)} would be "
                    "ignored; remove them."
                )
            try:
                check_is_fitted(self.estimator)
            except NotFittedError as exc:
                raise NotFittedError(
                    "cv='prefit' needs a fitted estimator; fit it first or use a cv splitter."
                ) from exc
            self.estimator_ = self.estimator
            rows = np.arange(Y.shape[0])
            proba = _predict_positive_proba(self.estimator, X, Y.shape[1])
        else:
            models, rows, proba = self._out_of_fold_proba(X, Y, fit_params)
            if self.refit:
                self.estimator_ = clone(self.estimator).fit(X, Y, **fit_params)
            else:
                self.estimator_ = HPAFoldEnsemble.from_fitted(models, cv=self._splitter())

        Y_tuned = Y[rows]
        self._choose_thresholds(Y_tuned, proba)
        Y_pred = apply_thresholds(
            proba, self.best_thresholds_, at_least_one_label=self.at_least_one_label
        )
        self.best_score_ = macro_f1(Y_tuned, Y_pred)
        self.classes_ = np.arange(Y.shape[1])
        if isinstance(self.estimator_, HPAFoldEnsemble):
            fitted = self.estimator_.estimators_[0]
        else:
            fitted = self.estimator_
        if hasattr(fitted, "n_features_in_"):
            self.n_features_in_ = fitted.n_features_in_
        return self

    def predict_proba(self, X):
        """Probability of each label, shape (n_samples, n_labels).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, as the estimator accepts them.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels)
        """
        check_is_fitted(self, "estimator_")
        return _predict_positive_proba(self.estimator_, X, self.classes_.size)

    def predict(self, X):
        """0/1 labels: ``predict_proba(X) >= best_thresholds_`` (with the fallback if set).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples, as the estimator accepts them.

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_labels), dtype uint8
        """
        return apply_thresholds(
            self.predict_proba(X),
            self.best_thresholds_,
            at_least_one_label=self.at_least_one_label,
        )

    def _set_tuned(self, estimator, thresholds, score):
        """The fitted state of a tuner whose model and thresholds come from elsewhere (a saved
        folder)."""
        self.estimator_ = estimator
        self.best_thresholds_ = np.asarray(thresholds, dtype=np.float64)
        self.best_score_ = float(score)
        self.classes_ = np.arange(self.best_thresholds_.size)
        inner = estimator.estimators_[0] if isinstance(estimator, HPAFoldEnsemble) else estimator
        if hasattr(inner, "n_features_in_"):
            self.n_features_in_ = inner.n_features_in_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.classifier_tags.multi_label = True
        tags.input_tags = replace(inner.input_tags)
        tags.non_deterministic = inner.non_deterministic
        return tags
