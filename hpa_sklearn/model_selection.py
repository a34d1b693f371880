"""Model selection for multi-label HPA data: multilabel-stratified splitters with safe defaults, the
report's 64/16/20 split, the macro-F1 scorer and the report's tuning table as a parameter grid.

The splitters wrap ``iterstrat``'s iterative stratification (Sechidis et al., 2011) and fix its
traps: there, a ``random_state`` with ``shuffle=False`` raises under current scikit-learn, and
``random_state=None`` gives different folds at every ``split`` call. Here the seed defaults to 0,
so the same splitter gives the same folds every time, and it also seeds the tie-breaking when
``shuffle=False``.
"""

from numbers import Integral
from types import MappingProxyType

import numpy as np
from iterstrat.ml_stratifiers import IterativeStratification
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold as _IterstratKFold
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit as _IterstratShuffleSplit
from sklearn.model_selection._split import _validate_shuffle_split
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils.validation import _num_samples

from ._validation import check_label_matrix
from .metrics import class_names_of, macro_f1_scorer, per_class_f1
from .exceptions import InputError
from ._warnings import warn

__all__ = [
    "ExtraTrainingSplit",
    "MultilabelStratifiedKFold",
    "MultilabelStratifiedShuffleSplit",
    "REPORT_BEST_PARAMS",
    "REPORT_SPLIT",
    "macro_f1_scorer",
    "make_report_search",
    "multilabel_train_test_split",
    "per_class_f1",
    "report_param_grid",
]

#: The original report's split: 20% test, then 20% of the rest as validation (64/16/20). Use as
#: ``multilabel_train_test_split(X, Y, **REPORT_SPLIT)``.
REPORT_SPLIT = MappingProxyType({"test_size": 0.2, "validation_size": 0.2})

# The original report's tuning table (720 combinations), in HPAVGG16Classifier's parameter names.
_REPORT_GRID = MappingProxyType(
    {
        "batch_size": (16, 32, 64, 128),
        "learning_rate": (0.01, 0.005, 0.001, 0.0005, 0.0001),
        "optimizer": ("adam", "adagrad", "adamax"),
        "activation": ("relu", "sigmoid", "tanh"),
        "dropout": (0.1, 0.2, 0.25, 0.3),
    }
)

#: The values the original report chose from its table (it also used a Keras 2 learning-rate
#: ``decay`` of 5e-5, which is not part of the table).
REPORT_BEST_PARAMS = MappingProxyType(
    {
        "batch_size": 64,
        "learning_rate": 0.0001,
        "optimizer": "adam",
        "activation": "relu",
        "dropout": 0.2,
    }
)


def _check_random_state_argument(random_state):
    if random_state is not None and not isinstance(
        random_state, (Integral, np.random.RandomState)
    ):
        raise InputError(
            "random_state must be an int, a numpy RandomState or None; "
            f"got {random_state!r}."
        )


def _stratification_matrix(Y):
    """Iterative stratification needs two or more columns: a single label is stratified together
    with its complement."""
    return np.hstack([Y, 1 - Y]) if Y.shape[1] == 1 else Y


class MultilabelStratifiedKFold(_IterstratKFold):
    """K folds that keep each label's frequency in every fold (iterative stratification).

    ``iterstrat``'s splitter with safe defaults: shuffled, seeded with 0, so that every call of
    ``split`` on the same ``Y`` gives the same folds. ``random_state`` also seeds the tie-breaking
    of the stratification itself, so ``shuffle=False`` with a seed is deterministic too.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=True
        Shuffle the rows before stratifying.
    random_state : int, RandomState instance or None, default=0
        Seed of the shuffle and of the tie-breaking. ``None`` (or a RandomState instance) gives
        different folds at each ``split`` call.

    See Also
    --------
    MultilabelStratifiedShuffleSplit : Random multilabel-stratified train/test splits.

    Notes
    -----
    A label with fewer positives than ``n_splits`` cannot be in every test fold; ``split`` warns
    and names such labels. Fold sizes may differ slightly, stratification comes first.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.model_selection import MultilabelStratifiedKFold
    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]])
    >>> cv = MultilabelStratifiedKFold(n_splits=2)
    >>> [Y[test].sum(axis=0).tolist() for _, test in cv.split(np.zeros(6), Y)]
    [[2, 2], [2, 2]]
    """

    def __init__(self, n_splits=5, *, shuffle=True, random_state=0):
        # the parent refuses a seed without shuffling; here the seed also drives tie-breaking
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=None)
        _check_random_state_argument(random_state)
        self.random_state = random_state

    def split(self, X, y, groups=None):
        """Generate train and test indices of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples, n_labels)
            0/1 indicator matrix to stratify on.
        groups : None
            Ignored.

        Yields
        ------
        train, test : ndarray
            Indices of each fold's training and test rows.
        """
        Y = check_label_matrix(y, name="y", n_samples=_num_samples(X))
        n_positive = Y.sum(axis=0, dtype=np.int64)
        rare = np.flatnonzero((n_positive > 0) & (n_positive < self.n_splits))
        if rare.size:
            names = class_names_of(Y.shape[1])
            listed = ", ".join(f"{j} ({names[j]}: {n_positive[j]})" for j in rare)
            warn(
                f"Class(es) {listed} have fewer positives than the {self.n_splits} folds "
                "(n_splits): some test folds will have none of them.",
                UserWarning,
            )
        return super().split(X, _stratification_matrix(Y), groups)


class MultilabelStratifiedShuffleSplit(_IterstratShuffleSplit):
    """Random train/test splits that keep each label's frequency (iterative stratification).

    ``iterstrat``'s splitter with safe defaults: seeded with 0 (the same splits at every ``split``
    call), sizes as in scikit-learn's ``ShuffleSplit`` (``test_size=None`` means 0.1 unless
    ``train_size`` is set), and rows left out of both when ``train_size + test_size < 1``.

    Parameters
    ----------
    n_splits : int, default=10
        Number of splits.
    test_size : float or int, default=None
        Fraction (0, 1) or number of test rows.
    train_size : float or int, default=None
        Fraction (0, 1) or number of training rows; the complement of ``test_size`` if None.
    random_state : int, RandomState instance or None, default=0
        Seed of the shuffles and of the tie-breaking.

    See Also
    --------
    multilabel_train_test_split : One split of several arrays at once.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.model_selection import MultilabelStratifiedShuffleSplit
    >>> Y = np.tile([[1, 0], [0, 1], [1, 1], [0, 0]], (5, 1))
    >>> cv = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.25)
    >>> train, test = next(cv.split(np.zeros(20), Y))
    >>> len(train), len(test), Y[test].sum(axis=0).tolist()
    (15, 5, [2, 2])
    """

    def __init__(self, n_splits=10, *, test_size=None, train_size=None, random_state=0):
        if isinstance(n_splits, bool) or not isinstance(n_splits, Integral) or n_splits < 1:
            raise InputError(f"n_splits must be a positive int; got {n_splits!r}.")
        _check_random_state_argument(random_state)
        super().__init__(
            n_splits=n_splits, test_size=test_size, train_size=train_size, random_state=random_state
        )

    def split(self, X, y, groups=None):
        """Generate train and test indices of each split.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples, n_labels)
            0/1 indicator matrix to stratify on.
        groups : None
            Ignored.

        Yields
        ------
        train, test : ndarray
            Indices of each split's training and test rows.
        """
        Y = check_label_matrix(y, name="y", n_samples=_num_samples(X))
        return super().split(X, _stratification_matrix(Y), groups)

    def _iter_indices(self, X, y, groups=None):
        n_samples = _num_samples(X)
        n_train, n_test = _validate_shuffle_split(
            n_samples, self.test_size, self.train_size, default_test_size=self._default_test_size
        )
        # a third, unused part when train and test do not cover every row
        r = np.array([n_train, n_test, n_samples - n_train - n_test]) / n_samples
        Y = np.asarray(y, dtype=bool)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            order = rng.permutation(n_samples)
            part = np.empty(n_samples, dtype=int)
            part[order] = IterativeStratification(labels=Y[order], r=r, random_state=rng)
            yield np.flatnonzero(part == 0), np.flatnonzero(part == 1)


class ExtraTrainingSplit:
    """Cross-validation in which some rows are training data only (external data, e.g. HPAv18).

    ``cv`` splits the other rows; every training part gets all the ``extra`` rows added, and no
    test part holds one. So the scores and out-of-fold predictions are on the data of interest
    alone, while every model learns from the extra images too (as the 2018 winners did with
    HPAv18).

    Parameters
    ----------
    cv : cross-validation splitter
        Splits the rows that are not extra (e.g. ``MultilabelStratifiedKFold(5)``).
    extra : array-like of bool of shape (n_samples,)
        True for the rows that may only be trained on.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.model_selection import ExtraTrainingSplit, MultilabelStratifiedKFold
    >>> Y = np.tile([[1, 0], [0, 1]], (5, 1))
    >>> extra = np.arange(10) >= 6
    >>> cv = ExtraTrainingSplit(MultilabelStratifiedKFold(2), extra)
    >>> folds = list(cv.split(np.zeros(10), Y))
    >>> sorted(int(i) for _, test in folds for i in test)  # each non-extra row tested once
    [0, 1, 2, 3, 4, 5]
    >>> all(set(range(6, 10)) <= set(train) for train, _ in folds)  # extra rows always trained
    True
    """

    def __init__(self, cv, extra):
        self.cv = cv
        self.extra = extra

    def _masks(self, n_samples):
        extra = np.asarray(self.extra, dtype=bool)
        if extra.shape != (n_samples,):
            raise InputError(f"extra must be one boolean per row ({n_samples}); got shape "
                             f"{extra.shape}.")
        if extra.all():
            raise InputError("every row is extra: nothing is left to test on.")
        return np.flatnonzero(~extra), np.flatnonzero(extra)

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` indices: the inner splits of the rows that are not extra, each
        training part with every extra row added."""
        base, extra = self._masks(_num_samples(X))
        inner_y = None if y is None else _safe_indexing(y, base)
        inner_groups = None if groups is None else _safe_indexing(groups, base)
        for train, test in self.cv.split(base, inner_y, inner_groups):
            yield np.concatenate([base[train], extra]), base[test]

    def get_n_splits(self, X=None, y=None, groups=None):
        """The inner splitter's number of splits."""
        return self.cv.get_n_splits(X, y, groups)


def multilabel_train_test_split(
    *arrays, test_size=None, train_size=None, validation_size=None, stratify=None, random_state=0
):
    """Split arrays into train and test (and validation) parts, multilabel-stratified.

    Like :func:`sklearn.model_selection.train_test_split` (``test_size=None`` means 0.25 unless
    ``train_size`` is set), stratified on a 0/1 label matrix. The report's 64/16/20 split is
    ``multilabel_train_test_split(X, Y, **REPORT_SPLIT)``.

    Parameters
    ----------
    *arrays : sequence of indexables with the same length
        E.g. ``X, Y``.
    test_size, train_size : float or int, default=None
        Fraction or number of rows of the test and training parts.
    validation_size : float or int, default=None
        If set, this fraction (or number of rows) of the training part becomes a validation part:
        ``test_size=0.2, validation_size=0.2`` gives 64% / 16% / 20%.
    stratify : array-like of shape (n_samples, n_labels), default=None
        The indicator matrix to stratify on; by default the last of ``arrays``.
    random_state : int, RandomState instance or None, default=0
        Seed of the split(s).

    Returns
    -------
    splitting : list
        ``[a_train, a_test, b_train, b_test, ...]``, or with ``validation_size``
        ``[a_train, a_val, a_test, b_train, b_val, b_test, ...]``.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.model_selection import REPORT_SPLIT, multilabel_train_test_split
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> Y = rng.binomial(1, [0.5, 0.2, 0.05], size=(1000, 3))
    >>> X_tr, X_val, X_te, Y_tr, Y_val, Y_te = multilabel_train_test_split(X, Y, **REPORT_SPLIT)
    >>> len(X_tr), len(X_val), len(X_te)
    (640, 160, 200)
    """
    if not arrays:
        raise InputError("multilabel_train_test_split needs at least one array.")
    arrays = indexable(*arrays)
    stratify = arrays[-1] if stratify is None else stratify
    n_samples = _num_samples(arrays[0])
    n_train, n_test = _validate_shuffle_split(
        n_samples, test_size, train_size, default_test_size=0.25
    )
    splitter = MultilabelStratifiedShuffleSplit(
        n_splits=1, test_size=n_test, train_size=n_train, random_state=random_state
    )
    train, test = next(splitter.split(arrays[0], stratify))
    if validation_size is None:
        parts = (train, test)
    else:
        splitter = MultilabelStratifiedShuffleSplit(
            n_splits=1, test_size=validation_size, random_state=random_state
        )
        fit_rows, val_rows = next(splitter.split(train, _safe_indexing(stratify, train)))
        parts = (train[fit_rows], train[val_rows], test)
    return [_safe_indexing(array, rows) for array in arrays for rows in parts]


def report_param_grid(step="classifier"):
    """The original report's tuning table as a ``GridSearchCV`` parameter grid (720 combinations).

    Batch size {16, 32, 64, 128}, learning rate {0.01, 0.005, 0.001, 0.0005, 0.0001}, optimizer
    {adam, adagrad, adamax}, hidden-layer activation {relu, sigmoid, tanh}, dropout
    {0.1, 0.2, 0.25, 0.3}, in ``HPAVGG16Classifier``'s parameter names.

    Parameters
    ----------
    step : str or None, default="classifier"
        Name of the classifier's step in a ``Pipeline``: keys become ``"<step>__batch_size"``,
        etc. ``None`` gives the bare names, for searching the classifier itself.

    Returns
    -------
    param_grid : dict of str to list
        A new dict at each call.

    Examples
    --------
    >>> from sklearn.model_selection import ParameterGrid
    >>> from hpa_sklearn.model_selection import report_param_grid
    >>> len(ParameterGrid(report_param_grid()))
    720
    >>> sorted(report_param_grid(step=None))
    ['activation', 'batch_size', 'dropout', 'learning_rate', 'optimizer']
    """
    if step is not None and (not isinstance(step, str) or not step):
        raise InputError(f"step must be a non-empty step name or None; got {step!r}.")
    prefix = "" if step is None else f"{step}__"
    return {f"{prefix}{name}": list(values) for name, values in _REPORT_GRID.items()}


def make_report_search(
    estimator,
    *,
    step="classifier",
    resource="epochs",
    max_resources=None,
    min_resources=None,
    n_candidates=None,
    factor=3,
    cv=3,
    random_state=0,
    n_jobs=None,
    verbose=0,
):
    """A successive-halving search of the report's table, scored by macro F1 on multilabel folds.

    Trying all 720 combinations at full training length is what the report could not afford.
    Successive halving trains every candidate on a small budget, keeps the best ``1/factor``,
    and multiplies their budget by ``factor``, until the last round trains at
    ``max_resources``. With ``resource="epochs"``, ``max_resources=27`` and ``factor=3`` the
    rounds are 720 candidates x 1 epoch, 240 x 3, 80 x 9, 27 x 27: about 2,900 epochs per fold
    instead of 19,440 (720 x 27), 6.7 times fewer. Each round refits from scratch.

    Parameters
    ----------
    estimator : estimator instance
        A ``Pipeline`` whose step ``step`` is the classifier (or, with ``step=None``, the
        classifier itself), with parameters ``batch_size``, ``learning_rate``, ``optimizer``,
        ``activation``, ``dropout`` and ``epochs``.
    step : str or None, default="classifier"
        Name of the classifier's step, as in :func:`report_param_grid`.
    resource : {"epochs", "n_samples"}, default="epochs"
        The budget that grows: the classifier's ``epochs`` (requires ``max_resources``), or the
        number of training rows (requires ``min_resources``). ``"n_samples"`` subsamples each
        training fold at random, not stratified: rare classes may be missing from the early
        rounds, so prefer epochs.
    max_resources : int, default=None
        Budget of the last round: epochs (required), or rows (``None``: all).
    min_resources : int, default=None
        Budget of the first round. For epochs, ``None`` picks the smallest budget (at least 1)
        whose rounds end at ``max_resources`` (scikit-learn's ``"exhaust"``). For rows it is
        required: scikit-learn's automatic choice refuses multi-label targets.
    n_candidates : int, default=None
        ``None``: all 720 combinations (``HalvingGridSearchCV``); an int: that many drawn at
        random from the table (``HalvingRandomSearchCV``).
    factor : int, default=3
        Fraction kept (``1/factor``) and budget growth per round.
    cv : int or cross-validation generator, default=3
        An int means that many :class:`MultilabelStratifiedKFold` folds seeded with
        ``random_state``.
    random_state : int, RandomState instance or None, default=0
        Seed of the folds, the subsampling and the candidate draw.
    n_jobs : int, default=None
        Parallel fits (joblib).
    verbose : int, default=0
        Progress messages of the search.

    Returns
    -------
    search : HalvingGridSearchCV or HalvingRandomSearchCV
        Not fitted; call ``search.fit(X, Y)``. Scoring is :data:`macro_f1_scorer`.

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.neural_network import MLPClassifier
    >>> from hpa_sklearn.model_selection import make_report_search
    >>> search = make_report_search(
    ...     Pipeline([("classifier", MLPClassifier())]),
    ...     resource="n_samples", min_resources=200, n_candidates=9,
    ... )
    >>> type(search).__name__, search.resource
    ('HalvingRandomSearchCV', 'n_samples')
    """
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

    if resource == "epochs":
        if max_resources is None:
            raise InputError(
                "resource='epochs' needs max_resources, the number of epochs of the last round; "
                "got max_resources=None."
            )
        resource = "epochs" if step is None else f"{step}__epochs"
        min_resources = "exhaust" if min_resources is None else min_resources
    elif resource == "n_samples":
        if min_resources is None:
            raise InputError(
                "resource='n_samples' needs min_resources, the number of training rows of the "
                "first round (scikit-learn cannot choose it for multi-label targets); got "
                "min_resources=None."
            )
        max_resources = "auto" if max_resources is None else max_resources
    else:
        raise InputError(f"resource must be 'epochs' or 'n_samples'; got {resource!r}.")
    if isinstance(cv, Integral):
        cv = MultilabelStratifiedKFold(n_splits=cv, random_state=random_state)
    common = dict(
        factor=factor,
        resource=resource,
        max_resources=max_resources,
        min_resources=min_resources,
        cv=cv,
        scoring=macro_f1_scorer,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=verbose,
        return_train_score=False,  # scoring each training fold would cost a prediction pass
    )
    grid = report_param_grid(step=step)
    if n_candidates is None:
        return HalvingGridSearchCV(estimator, grid, **common)
    return HalvingRandomSearchCV(estimator, grid, n_candidates=n_candidates, **common)
