"""Tests of hpa_sklearn.model_selection: splitters, the report's split, grid and search."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, ParameterGrid, cross_val_score
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from hpa_sklearn.datasets import read_label_csv
from hpa_sklearn.model_selection import (
    REPORT_BEST_PARAMS,
    REPORT_SPLIT,
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    macro_f1_scorer,
    make_report_search,
    multilabel_train_test_split,
    report_param_grid,
)
from hpa_sklearn.thresholds import MultilabelThresholdTuner


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _imbalanced_labels(n=600, seed=0):
    """Multi-label Y with HPA-like imbalance and co-occurrence: a frequent class, mid classes,
    rare classes that co-occur with the frequent one, and one class with 3 positives."""
    rng = np.random.RandomState(seed)
    Y = rng.binomial(1, [0.4, 0.25, 0.1, 0.05, 0.02, 0.012], size=(n, 6))
    Y[:, 4] |= Y[:, 5] & rng.binomial(1, 0.5, size=n)  # rare classes co-occur
    Y[:, 0] |= Y[:, 4]
    rare = np.zeros((n, 1), dtype=Y.dtype)
    rare[rng.choice(n, 3, replace=False)] = 1
    return np.hstack([Y, rare])


def _structured_data(n=500, seed=0):
    """X (n, 8) and imbalanced Y (n, 4) that a linear model can partly predict."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 8))
    logits = X[:, :4] * 1.5 - np.array([0.0, 1.5, 2.5, 3.0])
    Y = (logits + rng.logistic(size=(n, 4)) > 0).astype(int)
    return X, Y


class _TinyNet(ClassifierMixin, BaseEstimator):
    """A fast stand-in for HPAVGG16Classifier with its search parameters, for wiring tests.

    An MLP: activation sigmoid -> logistic; optimizer adam -> adam, the others -> sgd; dropout ->
    L2 penalty alpha; epochs -> max_iter. Records the epochs of each fit in ``fitted_epochs``.
    """

    fitted_epochs = []

    def __init__(
        self, batch_size=64, learning_rate=1e-4, optimizer="adam", activation="relu",
        dropout=0.2, epochs=3,
    ):
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.activation = activation
        self.dropout = dropout
        self.epochs = epochs

    def fit(self, X, Y):
        _TinyNet.fitted_epochs.append(self.epochs)
        self.mlp_ = MLPClassifier(
            hidden_layer_sizes=(8,),
            batch_size=min(self.batch_size, len(X)),
            learning_rate_init=self.learning_rate,
            solver="adam" if self.optimizer == "adam" else "sgd",
            activation={"sigmoid": "logistic"}.get(self.activation, self.activation),
            alpha=self.dropout,
            max_iter=self.epochs,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.mlp_.fit(X, Y)
        self.classes_ = np.arange(Y.shape[1])
        return self

    def predict_proba(self, X):
        return self.mlp_.predict_proba(X)

    def predict(self, X):
        return self.mlp_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


# ----------------------------------------------------------------------------- splitters


def _folds(cv, Y):
    return [test.tolist() for _, test in cv.split(np.zeros(len(Y)), Y)]


def test_kfold_same_folds_every_call_and_for_the_same_seed():
    Y = _imbalanced_labels()
    cv = MultilabelStratifiedKFold(n_splits=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the 3-positive class
        first = _folds(cv, Y)
        assert _folds(cv, Y) == first
        assert _folds(MultilabelStratifiedKFold(n_splits=4, random_state=0), Y) == first
        assert _folds(MultilabelStratifiedKFold(n_splits=4, random_state=1), Y) != first
        unshuffled = MultilabelStratifiedKFold(n_splits=4, shuffle=False, random_state=3)
        assert _folds(unshuffled, Y) == _folds(unshuffled, Y)
    rows = np.sort(np.concatenate(first))
    np.testing.assert_array_equal(rows, np.arange(len(Y)))  # a partition of the rows


@pytest.mark.parametrize("seed", range(5))
def test_kfold_every_fold_has_every_class_with_enough_positives(seed):
    Y = _imbalanced_labels(seed=seed)
    n_splits = 5
    with pytest.warns(UserWarning, match=r"6 \(class 6: 3\)"):
        folds = list(MultilabelStratifiedKFold(n_splits, random_state=seed).split(Y, Y))
    enough = Y.sum(axis=0) >= n_splits
    for train, test in folds:
        assert np.all(Y[test][:, enough].sum(axis=0) > 0)
        assert np.all(Y[train][:, enough].sum(axis=0) > 0)


@pytest.mark.realdata
def test_kfold_on_the_real_hpa_labels(real_data_dir):
    _, Y = read_label_csv(real_data_dir / "train.csv")
    folds = list(MultilabelStratifiedKFold(5).split(np.zeros(len(Y)), Y))
    expected = Y.sum(axis=0) / 5
    for _, test in folds:
        counts = Y[test].sum(axis=0)
        assert np.all(counts > 0)  # Rods & rings (11 positives) included
        assert np.all(np.abs(counts - expected) <= 1)


def test_kfold_names_rare_hpa_classes_and_checks_input():
    Y = np.zeros((40, 28), dtype=int)
    Y[:, 0] = 1
    Y[:2, 27] = 1
    with pytest.warns(UserWarning,
                      match=r"27 \(Rods & rings: 2\).*than the 3 folds \(n_splits\)"):
        MultilabelStratifiedKFold(3).split(Y, Y)
    with pytest.raises(ValueError, match="indicator matrix"):
        MultilabelStratifiedKFold(3).split(Y, Y[:, 0])
    with pytest.raises(ValueError, match="39 rows but X has 40"):
        MultilabelStratifiedKFold(3).split(Y, Y[:39])
    with pytest.raises(ValueError, match="random_state must be"):
        MultilabelStratifiedKFold(3, random_state="0")
    with pytest.raises(ValueError, match="k-fold cross-validation requires at least one"):
        MultilabelStratifiedKFold(1)


def test_kfold_single_label_column_is_stratified():
    y = np.zeros((30, 1), dtype=int)
    y[:9] = 1
    for _, test in MultilabelStratifiedKFold(3).split(y, y):
        assert y[test].sum() == 3 and len(test) == 10
    assert "MultilabelStratifiedKFold(n_splits=3, random_state=0, shuffle=True)" == repr(
        MultilabelStratifiedKFold(3)
    )


def test_shuffle_split_sizes_reproducibility_and_left_out_rows():
    Y = _imbalanced_labels(n=500)
    splits = list(MultilabelStratifiedShuffleSplit(n_splits=3).split(Y, Y))
    assert [[t.tolist(), s.tolist()] for t, s in splits] == [
        [t.tolist(), s.tolist()] for t, s in MultilabelStratifiedShuffleSplit(3).split(Y, Y)
    ]
    assert splits[0][1].tolist() != splits[1][1].tolist()
    for train, test in splits:
        assert abs(len(test) - 50) <= 3  # default test_size 0.1
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 500
    train, test = next(
        MultilabelStratifiedShuffleSplit(1, test_size=0.2, train_size=0.5).split(Y, Y)
    )
    assert abs(len(train) - 250) <= 3 and abs(len(test) - 100) <= 3
    assert len(np.intersect1d(train, test)) == 0
    with pytest.raises(ValueError, match="n_splits must be a positive int"):
        MultilabelStratifiedShuffleSplit(0)


# ------------------------------------------------------------------- the report's split


def test_report_split_is_64_16_20_and_stratified():
    Y = _imbalanced_labels(n=2000, seed=3)
    ids = np.arange(len(Y))
    parts = multilabel_train_test_split(ids, Y, **REPORT_SPLIT, random_state=0)
    id_train, id_val, id_test, Y_train, Y_val, Y_test = parts
    for rows, part, fraction in [(id_train, Y_train, 0.64), (id_val, Y_val, 0.16),
                                 (id_test, Y_test, 0.2)]:
        np.testing.assert_array_equal(part, Y[rows])  # rows stay aligned across arrays
        assert abs(len(rows) / len(Y) - fraction) < 0.01
        frequent = Y.sum(axis=0) >= 100
        share = part[:, frequent].sum(axis=0) / Y[:, frequent].sum(axis=0)
        assert np.all(np.abs(share - fraction) < 0.02)
        present = Y.sum(axis=0) >= 5
        assert np.all(part[:, present].sum(axis=0) > 0)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts[:3])), ids)
    again = multilabel_train_test_split(ids, Y, **REPORT_SPLIT, random_state=0)
    np.testing.assert_array_equal(again[2], id_test)


def test_train_test_split_defaults_and_explicit_stratify():
    Y = _imbalanced_labels(n=400)
    X_train, X_test = multilabel_train_test_split(np.arange(400), stratify=Y)
    assert abs(len(X_test) - 100) <= 3  # 0.25 by default, as scikit-learn
    frequent = Y.sum(axis=0) >= 40
    share = Y[X_test][:, frequent].sum(axis=0) / Y[:, frequent].sum(axis=0)
    assert np.all(np.abs(share - 0.25) < 0.03)
    with pytest.raises(ValueError, match="at least one array"):
        multilabel_train_test_split()


# ------------------------------------------------------------------ scorer, grid, search


def test_macro_f1_scorer_counts_a_never_seen_class_as_zero():
    X, Y = _structured_data()
    Y = np.column_stack([Y, np.zeros(len(Y), dtype=int)])
    Y[:5, -1] = 1
    model = MultiOutputClassifier(LogisticRegression()).fit(X, Y)
    assert model.predict(X)[:, -1].sum() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning: zero_division is set
        score = macro_f1_scorer(model, X, Y)
    per_class = f1_score(Y, model.predict(X), average=None, zero_division=0)
    assert score == pytest.approx(per_class.mean()) and per_class[-1] == 0


def test_report_param_grid_is_the_reports_table():
    grid = report_param_grid()
    assert len(ParameterGrid(grid)) == 720
    assert grid == {
        "classifier__batch_size": [16, 32, 64, 128],
        "classifier__learning_rate": [0.01, 0.005, 0.001, 0.0005, 0.0001],
        "classifier__optimizer": ["adam", "adagrad", "adamax"],
        "classifier__activation": ["relu", "sigmoid", "tanh"],
        "classifier__dropout": [0.1, 0.2, 0.25, 0.3],
    }
    bare = report_param_grid(step=None)
    assert sorted(bare) == sorted(name.split("__")[1] for name in grid)
    assert set(report_param_grid(step="net")) == {f"net__{name}" for name in bare}
    bare["batch_size"].append(256)
    assert report_param_grid(step=None)["batch_size"] == [16, 32, 64, 128]
    for name, value in REPORT_BEST_PARAMS.items():
        assert value in bare[name]
    with pytest.raises(TypeError):
        REPORT_BEST_PARAMS["batch_size"] = 32
    with pytest.raises(ValueError, match="step must be"):
        report_param_grid(step="")
    assert set(_TinyNet().get_params()) >= set(bare) | {"epochs"}


def test_grid_search_over_a_slice_of_the_report_grid():
    X, Y = _structured_data(n=300)
    grid = report_param_grid()
    grid["classifier__batch_size"] = [32]
    grid["classifier__learning_rate"] = [0.01, 0.001]
    grid["classifier__optimizer"] = ["adam"]
    grid["classifier__dropout"] = [0.1]
    grid["classifier__activation"] = ["relu", "tanh"]
    pipeline = Pipeline([("scale", StandardScaler()), ("classifier", _TinyNet(epochs=20))])
    search = GridSearchCV(
        pipeline, grid, scoring=macro_f1_scorer, cv=MultilabelStratifiedKFold(3)
    ).fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert set(search.best_params_) == set(grid)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((0 <= scores) & (scores <= 1)) and np.ptp(scores) > 0
    assert search.predict(X).shape == Y.shape


def test_cross_val_score_of_the_tuner_with_multilabel_folds():
    X, Y = _structured_data(n=300)
    tuner = MultilabelThresholdTuner(MultiOutputClassifier(LogisticRegression()), cv=3,
                                     random_state=0)
    cv = MultilabelStratifiedKFold(3)
    scores = cross_val_score(tuner, X, Y, scoring=macro_f1_scorer, cv=cv)
    assert scores.shape == (3,) and np.all((0 < scores) & (scores <= 1))
    # the tuner's own score is the same macro F1
    for (train, test), score in zip(cv.split(X, Y), scores):
        fitted = MultilabelThresholdTuner(
            MultiOutputClassifier(LogisticRegression()), cv=3, random_state=0
        ).fit(X[train], Y[train])
        assert fitted.score(X[test], Y[test]) == pytest.approx(score)


def test_report_search_with_epochs_as_the_resource():
    X, Y = _structured_data(n=240)
    pipeline = Pipeline([("classifier", _TinyNet())])
    search = make_report_search(
        pipeline, max_resources=9, n_candidates=9, factor=3, cv=2, random_state=0
    )
    _TinyNet.fitted_epochs.clear()
    search.fit(X, Y)
    assert search.resource == "classifier__epochs"
    assert search.n_candidates_ == [9, 3, 1] and search.n_resources_ == [1, 3, 9]
    # 9 candidates x 2 folds at 1 epoch, 3 x 2 at 3, 1 x 2 at 9, then the refit at 9
    assert sorted(_TinyNet.fitted_epochs) == [1] * 18 + [3] * 6 + [9] * 3
    assert set(search.best_params_) == set(report_param_grid()) | {"classifier__epochs"}
    assert search.best_params_["classifier__epochs"] == 9
    assert search.scorer_ is macro_f1_scorer


def test_report_search_with_samples_as_the_resource_and_the_full_grid():
    X, Y = _structured_data(n=300)
    search = make_report_search(
        Pipeline([("classifier", _TinyNet())]), resource="n_samples", min_resources=75,
        n_candidates=4, factor=2, cv=2,
    ).fit(X, Y)
    assert search.n_resources_ == [75, 150, 300] and search.n_candidates_ == [4, 2, 1]
    full = make_report_search(_TinyNet(), step=None, max_resources=27)
    assert type(full).__name__ == "HalvingGridSearchCV" and full.resource == "epochs"
    assert len(ParameterGrid(full.param_grid)) == 720
    assert isinstance(full.cv, MultilabelStratifiedKFold) and full.cv.n_splits == 3
    with pytest.raises(ValueError, match="needs max_resources"):
        make_report_search(_TinyNet())
    with pytest.raises(ValueError, match="needs min_resources"):
        make_report_search(_TinyNet(), resource="n_samples")
    with pytest.raises(ValueError, match="resource must be"):
        make_report_search(_TinyNet(), resource="batches")
