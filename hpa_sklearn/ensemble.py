"""``HPAFoldEnsemble``: one classifier per cross-validation fold, used as one model.

The 2018 winners averaged the models of their folds instead of training one more on all the data:
each fold model has seen 1 - 1/K of the data, and their mean is steadier than any of them.
``fit`` trains them; :meth:`HPAFoldEnsemble.from_fitted` wraps models fitted elsewhere (the fold
models a :class:`~hpa_sklearn.MultilabelThresholdTuner` keeps with ``refit=False``);
``hpa-sklearn train --cv K --ensemble`` saves them as one model folder.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import _check_method_params, check_is_fitted

from ._decision import apply_thresholds, positive_proba
from ._model_api import _ModelMethods
from ._validation import check_label_matrix, check_thresholds
from .exceptions import InputError

# attributes of the library's classifiers that an ensemble of them shares
_SHARED = ("n_outputs_", "image_shape_", "input_dtype_", "channels_")


class HPAFoldEnsemble(_ModelMethods, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Classifiers trained on the folds of a cross-validation, used as one: :meth:`predict_proba`
    is the mean of theirs.

    Parameters
    ----------
    estimator : estimator instance, default=None
        The multi-label classifier cloned and fitted on each fold's training part (any estimator
        with ``fit(X, Y)`` and ``predict_proba(X)``; an :class:`~hpa_sklearn.HPAClassifier` for
        images). Required by :meth:`fit`.
    cv : int, cross-validation generator or iterable, default=5
        The folds: an int K gives :class:`~hpa_sklearn.MultilabelStratifiedKFold` with K folds,
        seeded with ``random_state``.
    threshold : float or array of shape (n_labels,), default=0.5
        Decision threshold(s) of :meth:`predict`.
    at_least_one_label : bool, default=False
        Give a row with no label the one closest to its threshold.
    random_state : int, default=0
        Seeds the folds of an int ``cv``.

    Attributes
    ----------
    estimators_ : list of fitted estimators
        One per fold.
    classes_ : ndarray of shape (n_labels,)
    n_outputs_, image_shape_, input_dtype_, channels_ : as the members' (classifiers of images)
    history_ : dict of lists
        The members' training histories, averaged epoch by epoch.

    See Also
    --------
    hpa_sklearn.MultilabelThresholdTuner : With ``refit=False`` it keeps exactly these models and
        tunes per-class thresholds on their out-of-fold predictions.

    Examples
    --------
    >>> from hpa_sklearn import HPAClassifier
    >>> from hpa_sklearn.ensemble import HPAFoldEnsemble
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=24, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
    ...                     decay=0.0, verbose=0, random_state=0)
    >>> ensemble = HPAFoldEnsemble(clf, cv=2).fit(X, Y)
    >>> ensemble.predict_proba(X[:3]).shape, len(ensemble.estimators_)
    ((3, 28), 2)
    >>> from sklearn.base import clone
    >>> clone(ensemble).get_params()["cv"]
    2
    """

    _parameter_constraints = {
        "estimator": [None, HasMethods(["fit", "predict_proba"])],
        "cv": ["cv_object"],
        "threshold": [Real, "array-like"],
        "at_least_one_label": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, cv=5, threshold=0.5, at_least_one_label=False,
                 random_state=0):
        self.estimator = estimator
        self.cv = cv
        self.threshold = threshold
        self.at_least_one_label = at_least_one_label
        self.random_state = random_state

    @classmethod
    def from_fitted(cls, estimators, *, cv=None, threshold=0.5, at_least_one_label=False):
        """An ensemble of classifiers fitted elsewhere (e.g. the fold models of
        ``MultilabelThresholdTuner(refit=False)``), used as they are.

        Its ``estimator`` is an unfitted clone of the first member and ``cv`` the folds the
        members were fitted on (by default their number, or None for a single member), so that
        ``clone``, ``fit`` and saving work on it like on any ensemble.

        Examples
        --------
        >>> from hpa_sklearn import HPAClassifier, MultilabelThresholdTuner
        >>> from hpa_sklearn.ensemble import HPAFoldEnsemble
        >>> from hpa_sklearn.datasets import make_hpa_like
        >>> X, Y = make_hpa_like(n_samples=24, image_size=32, random_state=0, return_X_y=True)
        >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
        ...                     decay=0.0, verbose=0, random_state=0)
        >>> tuner = MultilabelThresholdTuner(clf, cv=2, refit=False, random_state=0).fit(X, Y)
        >>> ensemble = HPAFoldEnsemble.from_fitted(tuner.estimator_.estimators_,
        ...                                        threshold=tuner.best_thresholds_)
        >>> ensemble.predict(X[:3]).shape
        (3, 28)
        """
        estimators = list(estimators)
        if not estimators:
            raise InputError("an ensemble needs at least one fitted estimator.")
        if cv is None and len(estimators) >= 2:
            cv = len(estimators)  # (one member: its folds are unknown; None is a valid cv)
        ensemble = cls(clone(estimators[0]), cv=cv, threshold=threshold,
                       at_least_one_label=at_least_one_label)
        return ensemble._set_members(estimators)

    def _set_members(self, estimators):
        """Take ``estimators`` (fitted, matching) as the members."""
        estimators = list(estimators)
        for i, member in enumerate(estimators):
            try:
                check_is_fitted(member)
            except Exception:
                raise InputError(f"estimators[{i}] is not fitted; fit it first.") from None
        first = estimators[0]
        for i, member in enumerate(estimators[1:], start=1):
            mismatch = [name for name in _SHARED
                        if getattr(member, name, None) != getattr(first, name, None)]
            if mismatch:
                raise InputError(
                    f"estimators[{i}] differs from estimators[0] in {', '.join(mismatch)} "
                    f"({[getattr(member, n, None) for n in mismatch]} against "
                    f"{[getattr(first, n, None) for n in mismatch]}); the members of an ensemble "
                    "must be fitted on the same kind of data.")
        if self.estimator is None:
            self.estimator = clone(first)
        self.estimators_ = estimators
        for name in _SHARED:
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))
        n_outputs = getattr(first, "n_outputs_", None) or len(getattr(first, "classes_", []))
        if n_outputs:
            self.classes_ = np.arange(n_outputs)
            check_thresholds(self.threshold, n_outputs)
        return self

    def _members(self):
        check_is_fitted(self, "estimators_")
        return self.estimators_

    def _folds(self, X, Y):
        if isinstance(self.cv, Integral):
            from .model_selection import MultilabelStratifiedKFold

            return MultilabelStratifiedKFold(self.cv, random_state=self.random_state).split(X, Y)
        return check_cv(self.cv).split(X, Y)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, Y, **fit_params):
        """Fit one clone of ``estimator`` on the training part of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        Y : array of shape (n_samples, n_labels)
        **fit_params : dict
            Passed to each member's ``fit`` (sample-aligned arrays are sliced per fold).

        Returns
        -------
        self : HPAFoldEnsemble
        """
        if self.estimator is None:
            raise InputError("HPAFoldEnsemble.fit needs an estimator to fit on each fold; pass "
                             "estimator=, or wrap fitted models with HPAFoldEnsemble.from_fitted.")
        Y = check_label_matrix(Y, n_samples=len(X))
        check_thresholds(self.threshold, Y.shape[1])
        members = []
        for train, _ in self._folds(X, Y):
            params = _check_method_params(X, fit_params, indices=train)
            members.append(clone(self.estimator).fit(_safe_indexing(X, train), Y[train],
                                                     **params))
        estimator = self.estimator
        self._set_members(members)
        self.estimator = estimator
        return self

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimators_")

    @property
    def history_(self):
        """The members' training histories, averaged epoch by epoch."""
        histories = [getattr(m, "history_", {}) for m in self._members()]
        merged = {}
        for key in histories[0]:
            runs = [h.get(key, []) for h in histories]
            length = min(len(r) for r in runs)
            merged[key] = [float(np.mean([r[i] for r in runs])) for i in range(length)]
        return merged

    def predict_proba(self, X):
        """The members' mean probability of each label (each with its own ``tta``).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels), float32
        """
        total = None
        for member in self._members():
            proba = positive_proba(member.predict_proba(X)).astype(np.float64)
            total = proba if total is None else total + proba
        return (total / len(self.estimators_)).astype(np.float32)

    def predict(self, X):
        """0/1 labels: ``predict_proba(X) >= threshold``, with the optional fallback.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_labels), uint8
        """
        return apply_thresholds(self.predict_proba(X), self.threshold,
                                at_least_one_label=self.at_least_one_label)

    def set_member_params(self, **params):
        """Set prediction settings (``verbose``, ``tta``, ``batch_size``, ``workers``) of every
        member. Returns self."""
        for member in self._members():
            member.set_params(**params)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        if self.estimator is not None:
            from sklearn.utils import get_tags

            inner = get_tags(self.estimator)
            tags.input_tags = inner.input_tags
            tags.non_deterministic = inner.non_deterministic
        return tags
