"""Tests of MultilabelThresholdTuner: known answers by brute force, degenerate cases, the
scikit-learn contract, and gains over the 0.5 threshold on held-out data."""

import itertools
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

from hpa_sklearn._decision import apply_thresholds, positive_proba
from hpa_sklearn.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    macro_f1_scorer,
    multilabel_train_test_split,
)
from hpa_sklearn.thresholds import MultilabelThresholdTuner


pytestmark = pytest.mark.usefixtures("one_blas_thread")


class _Lookup(ClassifierMixin, BaseEstimator):
    """Returns fixed probabilities: row ``X[i, 0]`` of ``table``. Its out-of-fold probabilities
    are ``table`` itself whatever the folds, which gives known answers."""

    fit_calls = []

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, Y):
        _Lookup.fit_calls.append(len(X))
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        return self.table[X[:, 0].astype(int)]


def _ids(n):
    return np.arange(n)[:, None]


def _known_problem(seed=0, n=120):
    """Imbalanced Y (4 labels) and probabilities with ties and exact 0/1 values."""
    rng = np.random.RandomState(seed)
    Y = rng.binomial(1, [0.4, 0.15, 0.06, 0.3], size=(n, 4))
    signal = Y * rng.uniform(0.2, 0.7, size=Y.shape) + rng.uniform(0, 0.5, size=Y.shape)
    P = np.clip(signal, 0, 1)
    P[:, 1] = np.round(P[:, 1], 1)  # heavy ties
    P[:10, 2] = 0.0  # exact zeros and ones
    P[10:15, 2] = 1.0
    return Y, P


def _sklearn_f1_at(y, p, candidates):
    """scikit-learn's F1 of ``p >= t`` for each candidate ``t``: one multi-label call whose
    columns are the candidates (the same numbers as one binary ``f1_score`` call per candidate,
    hundreds of times faster). A second column is always there: one column would be read as a
    binary target."""
    candidates = np.append(candidates, candidates[:1])
    predicted = (p[:, None] >= candidates[None, :]).astype(int)
    truth = np.repeat(np.asarray(y)[:, None], len(candidates), axis=1)
    return f1_score(truth, predicted, average=None, zero_division=0)[:-1]


def _brute_force(Y, P, candidates_of):
    """Per class: scikit-learn's F1 at every candidate in ascending order, first maximum kept."""
    best, scores = [], []
    for j in range(Y.shape[1]):
        candidates = np.sort(candidates_of(P[:, j]))
        f1 = _sklearn_f1_at(Y[:, j], P[:, j], candidates)
        best.append(candidates[int(np.argmax(f1))])
        scores.append(max(f1))
    return np.array(best), float(np.mean(scores))


GRIDS = {
    "exact": ("exact", np.unique),
    "int": (25, lambda p: np.linspace(p.min(), p.max(), 25)),
    "array": (np.array([0.9, 0.1, 0.3, 0.5, 0.7]), lambda p: np.array([0.1, 0.3, 0.5, 0.7, 0.9])),
}


@pytest.mark.parametrize("grid", GRIDS)
def test_thresholds_and_score_equal_brute_force(grid):
    thresholds, candidates_of = GRIDS[grid]
    Y, P = _known_problem()
    tuner = MultilabelThresholdTuner(
        _Lookup(P), thresholds=thresholds, cv=MultilabelStratifiedKFold(5)
    ).fit(_ids(len(Y)), Y)
    best, score = _brute_force(Y, P, candidates_of)
    np.testing.assert_array_equal(tuner.best_thresholds_, best)
    assert tuner.best_score_ == pytest.approx(score, abs=1e-12)


def test_per_class_search_maximizes_macro_f1_over_all_threshold_vectors():
    rng = np.random.RandomState(1)
    Y = rng.binomial(1, [0.5, 0.2, 0.1], size=(30, 3))
    Y[0] = 1
    P = np.round(np.clip(Y * 0.3 + rng.rand(30, 3) * 0.7, 0, 1), 1)
    grid = np.array([0.2, 0.4, 0.5, 0.6, 0.8])
    tuner = MultilabelThresholdTuner(_Lookup(P), thresholds=grid, cv=3).fit(_ids(30), Y)
    macro = {
        vector: f1_score(Y, apply_thresholds(P, np.array(vector)), average="macro",
                         zero_division=0)
        for vector in itertools.product(grid, repeat=3)
    }
    assert tuner.best_score_ == pytest.approx(max(macro.values()), abs=1e-12)
    assert macro[tuple(tuner.best_thresholds_)] == pytest.approx(max(macro.values()), abs=1e-12)


def test_ties_go_to_the_smallest_best_threshold():
    # F1 = 2/3 both at threshold 0.9 (2 predicted, 2 right) and at 0.6 (5 predicted, 3 right)
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 1])
    p = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert f1_score(y, p >= 0.9) == f1_score(y, p >= 0.6) == pytest.approx(2 / 3)
    for thresholds in ["exact", [0.6, 0.9, 0.95]]:
        tuner = MultilabelThresholdTuner(
            _Lookup(p[:, None]), thresholds=thresholds, cv=KFold(2)
        ).fit(_ids(10), y[:, None])
        assert tuner.best_thresholds_.tolist() == [0.6]


def test_one_fit_per_fold_then_one_refit_whatever_the_number_of_classes():
    Y, P = _known_problem()
    _Lookup.fit_calls.clear()
    MultilabelThresholdTuner(_Lookup(P), cv=4).fit(_ids(len(Y)), Y)
    assert len(_Lookup.fit_calls) == 5 and _Lookup.fit_calls[-1] == len(Y)
    _Lookup.fit_calls.clear()
    MultilabelThresholdTuner(_Lookup(P), cv=4, refit=False).fit(_ids(len(Y)), Y)
    assert len(_Lookup.fit_calls) == 4 and sum(_Lookup.fit_calls) == 3 * len(Y)


def _linear_data(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 8))
    logits = X[:, :4] * 1.5 - np.array([0.0, 1.5, 2.5, 3.0])
    return X, (logits + rng.logistic(size=(n, 4)) > 0).astype(int)


def _logistic():
    return MultiOutputClassifier(LogisticRegression())


def test_out_of_fold_probabilities_are_cross_val_predict_of_the_same_folds():
    X, Y = _linear_data(n=200)
    tuner = MultilabelThresholdTuner(_logistic(), thresholds="exact", cv=3, random_state=5,
                                     store_cv_results=True).fit(X, Y)
    oof = positive_proba(cross_val_predict(
        _logistic(), X, Y, cv=MultilabelStratifiedKFold(3, random_state=5),
        method="predict_proba",
    ))
    best, score = _brute_force(Y, oof, np.unique)
    np.testing.assert_allclose(tuner.best_thresholds_, best)
    assert tuner.best_score_ == pytest.approx(score)
    np.testing.assert_allclose(tuner.cv_results_["thresholds"], np.sort(oof, axis=0))
    assert tuner.cv_results_["scores"].shape == oof.shape
    np.testing.assert_allclose(tuner.cv_results_["scores"].max(axis=0).mean(), score)
    again = MultilabelThresholdTuner(_logistic(), cv=3, random_state=5).fit(X, Y)
    other = MultilabelThresholdTuner(_logistic(), cv=3, random_state=6).fit(X, Y)
    np.testing.assert_array_equal(
        again.best_thresholds_,
        MultilabelThresholdTuner(_logistic(), cv=3, random_state=5).fit(X, Y).best_thresholds_,
    )
    assert not np.array_equal(again.best_thresholds_, other.best_thresholds_)


def test_refit_true_predicts_with_a_model_fitted_on_all_data():
    X, Y = _linear_data()
    tuner = MultilabelThresholdTuner(_logistic(), cv=3, random_state=0).fit(X, Y)
    full = _logistic().fit(X, Y)
    np.testing.assert_allclose(tuner.predict_proba(X), positive_proba(full.predict_proba(X)))
    np.testing.assert_array_equal(
        tuner.predict(X), (tuner.predict_proba(X) >= tuner.best_thresholds_).astype(np.uint8)
    )
    np.testing.assert_array_equal(tuner.classes_, np.arange(4))
    assert tuner.n_features_in_ == 8


def test_fold_ensemble_averages_the_fold_models():
    X, Y = _linear_data()
    tuner = MultilabelThresholdTuner(_logistic(), cv=3, refit=False, random_state=0).fit(X, Y)
    folds = tuner.estimator_.estimators_
    assert len(folds) == 3
    splits = list(MultilabelStratifiedKFold(3, random_state=0).split(X, Y))
    for model, (train, _) in zip(folds, splits):  # each fold model saw its training rows only
        expected = _logistic().fit(X[train], Y[train])
        np.testing.assert_allclose(
            positive_proba(model.predict_proba(X)), positive_proba(expected.predict_proba(X))
        )
    mean = np.mean([positive_proba(m.predict_proba(X[:7])) for m in folds], axis=0)
    np.testing.assert_allclose(tuner.predict_proba(X[:7]), mean)
    assert tuner.n_features_in_ == 8


def test_prefit_tunes_on_the_given_data_with_the_model_as_is():
    X, Y = _linear_data(n=300)
    model = _logistic().fit(X[:150], Y[:150])
    tuner = MultilabelThresholdTuner(model, cv="prefit", refit=False, thresholds="exact")
    tuner.fit(X[150:], Y[150:])
    assert tuner.estimator_ is model
    best, _ = _brute_force(Y[150:], positive_proba(model.predict_proba(X[150:])), np.unique)
    np.testing.assert_allclose(tuner.best_thresholds_, best)
    with pytest.raises(ValueError, match="refit must be False; got refit=True"):
        MultilabelThresholdTuner(model, cv="prefit").fit(X, Y)
    with pytest.raises(NotFittedError, match="cv='prefit' needs a fitted estimator"):
        MultilabelThresholdTuner(_logistic(), cv="prefit", refit=False).fit(X, Y)
    with pytest.raises(ValueError, match="would be ignored"):
        MultilabelThresholdTuner(model, cv="prefit", refit=False).fit(
            X, Y, sample_weight=np.ones(len(X))
        )


def test_float_cv_tunes_on_the_validation_rows_only():
    Y, P = _known_problem(n=200)
    tuner = MultilabelThresholdTuner(_Lookup(P), cv=0.25, thresholds="exact", random_state=3)
    tuner.fit(_ids(200), Y)
    _, rows = next(MultilabelStratifiedShuffleSplit(1, test_size=0.25, random_state=3)
                   .split(Y, Y))
    best, score = _brute_force(Y[rows], P[rows], np.unique)
    np.testing.assert_array_equal(tuner.best_thresholds_, best)
    assert tuner.best_score_ == pytest.approx(score)


def test_rows_outside_every_test_fold_are_left_out_and_repeated_rows_averaged():
    Y, P = _known_problem(n=90)
    rows = np.arange(90)
    splits = [(rows[30:], rows[:30]), (rows[:30], rows[30:60])]  # rows 60..89 never held out
    tuner = MultilabelThresholdTuner(_Lookup(P), cv=splits, thresholds="exact").fit(_ids(90), Y)
    best, _ = _brute_force(Y[:60], P[:60], np.unique)
    np.testing.assert_array_equal(tuner.best_thresholds_, best)
    with pytest.raises(ValueError, match="no held-out row"):
        MultilabelThresholdTuner(_Lookup(P), cv=[]).fit(_ids(90), Y)


# ----------------------------------------------------------------------- degenerate cases


def test_class_without_positives_gets_the_default_threshold_and_a_warning():
    rng = np.random.RandomState(2)
    Y = rng.binomial(1, 0.3, size=(60, 28))
    Y[:, 27] = 0  # Rods & rings never seen
    P = rng.rand(60, 28)
    for scoring in ["f1", "label_frequency"]:
        tuner = MultilabelThresholdTuner(
            _Lookup(P), scoring=scoring, default_threshold=0.7, cv=3
        )
        with pytest.warns(UserWarning, match=r"27 \(Rods & rings\).*default_threshold=0.7"):
            tuner.fit(_ids(60), Y)
        assert tuner.best_thresholds_[27] == 0.7
        assert np.all(tuner.best_thresholds_[:27] != 0.7)
    small = np.column_stack([Y[:, :2], np.zeros(60, dtype=int)])
    with pytest.warns(UserWarning, match=r"class\(es\) 2 \(class 2\)"):
        MultilabelThresholdTuner(_Lookup(P[:, :3]), cv=3).fit(_ids(60), small)


def test_class_with_too_few_positives_for_the_folds_is_still_tuned():
    # one positive: the fold that holds it out trains without any positive of that class
    X, Y = _linear_data(n=150)
    Y[:, 3] = 0
    Y[7, 3] = 1
    tuner = MultilabelThresholdTuner(
        MultiOutputClassifier(KNeighborsClassifier(5)), cv=3, random_state=0
    )
    with pytest.warns(UserWarning, match=r"3 \(class 3: 1\)"):
        tuner.fit(X, Y)
    assert np.all(np.isfinite(tuner.best_thresholds_))
    assert tuner.predict(X).shape == Y.shape


def test_constant_and_saturated_probabilities():
    y = np.array([[1], [0], [1], [0], [0], [1]])
    constant = np.full((6, 1), 0.3)
    tuner = MultilabelThresholdTuner(_Lookup(constant), cv=KFold(2)).fit(_ids(6), y)
    # one threshold, equal to every score: predicting all (F1 = 2*3/(3+6)) beats none (0)
    assert tuner.best_thresholds_.tolist() == [0.3]
    assert tuner.best_score_ == pytest.approx(2 / 3)
    saturated = y.astype(float)  # exactly 0 or 1, perfectly separating
    for thresholds in ["exact", 100]:
        tuner = MultilabelThresholdTuner(
            _Lookup(saturated), thresholds=thresholds, cv=KFold(2)
        ).fit(_ids(6), y)
        assert tuner.best_score_ == 1.0
        np.testing.assert_array_equal(tuner.predict(_ids(6)), y)
    assert tuner.best_thresholds_[0] == pytest.approx(1 / 99)  # smallest perfect candidate


def test_label_frequency_matches_the_training_rates():
    Y, P = _known_problem(n=300)
    P[:, [0, 3]] = np.random.RandomState(9).rand(300, 2)  # no ties in these columns
    tuner = MultilabelThresholdTuner(_Lookup(P), scoring="label_frequency", cv=3).fit(
        _ids(300), Y
    )
    predicted = (P >= tuner.best_thresholds_).sum(axis=0)
    assert predicted[0] == Y[:, 0].sum() and predicted[3] == Y[:, 3].sum()
    assert np.all(predicted >= Y.sum(axis=0))  # more only where probabilities tie
    for j in range(4):  # the k-th largest probability, k = positives
        assert tuner.best_thresholds_[j] == np.sort(P[:, j])[::-1][Y[:, j].sum() - 1]
    expected = f1_score(Y, apply_thresholds(P, tuner.best_thresholds_), average="macro")
    assert tuner.best_score_ == pytest.approx(expected)


def test_at_least_one_label_fallback():
    Y, P = _known_problem()
    P[20:30] = 0.001  # below every tuned threshold
    tuner = MultilabelThresholdTuner(_Lookup(P), at_least_one_label=True, cv=3).fit(
        _ids(len(Y)), Y
    )
    plain = MultilabelThresholdTuner(_Lookup(P), cv=3).fit(_ids(len(Y)), Y)
    np.testing.assert_array_equal(tuner.best_thresholds_, plain.best_thresholds_)
    assert (plain.predict(_ids(len(Y))).sum(axis=1) == 0).any()  # the fallback has work
    predicted = tuner.predict(_ids(len(Y)))
    assert predicted.sum(axis=1).min() == 1
    expected = apply_thresholds(P, plain.best_thresholds_, at_least_one_label=True)
    np.testing.assert_array_equal(predicted, expected)
    assert tuner.best_score_ == pytest.approx(
        f1_score(Y, expected, average="macro", zero_division=0)
    )


# ------------------------------------------------------------------- scikit-learn contract


def test_scikit_learn_contract():
    tuner = MultilabelThresholdTuner(_logistic(), cv=3, thresholds="exact", random_state=0)
    assert is_classifier(tuner)
    tags = tuner.__sklearn_tags__()
    assert tags.estimator_type == "classifier" and tags.classifier_tags.multi_label
    name = type(tuner).__name__
    check_no_attributes_set_in_init(name, tuner)
    check_get_params_invariance(name, tuner)
    check_set_params(name, tuner)
    with pytest.raises(NotFittedError):
        tuner.predict(np.zeros((2, 8)))

    X, Y = _linear_data()
    assert tuner.fit(X, Y) is tuner
    clone_ = clone(tuner)
    assert clone_.get_params()["thresholds"] == "exact" and not hasattr(clone_, "estimator_")
    restored = pickle.loads(pickle.dumps(tuner))
    np.testing.assert_array_equal(restored.predict(X), tuner.predict(X))
    assert tuner.score(X, Y) == pytest.approx(
        f1_score(Y, tuner.predict(X), average="macro", zero_division=0)
    )
    assert tuner.predict(X).dtype == np.uint8


def test_parallel_folds_give_the_same_thresholds():
    X, Y = _linear_data(n=200)
    serial = MultilabelThresholdTuner(_logistic(), cv=3, random_state=0).fit(X, Y)
    parallel = MultilabelThresholdTuner(_logistic(), cv=3, random_state=0, n_jobs=2).fit(X, Y)
    np.testing.assert_array_equal(serial.best_thresholds_, parallel.best_thresholds_)


def test_invalid_parameters_are_named():
    X, Y = _linear_data(n=60)
    for params, match in [
        ({"scoring": "accuracy"}, "'scoring' parameter"),
        ({"thresholds": 1}, "'thresholds' parameter"),
        ({"thresholds": [[0.1, 0.2]]}, "thresholds must be"),
        ({"cv": 1.5}, "'cv' parameter"),
        ({"default_threshold": np.nan}, "default_threshold must be finite"),
    ]:
        with pytest.raises((InvalidParameterError, ValueError), match=match):
            MultilabelThresholdTuner(_logistic(), **params).fit(X, Y)
    with pytest.raises(ValueError, match="only 0 and 1"):
        MultilabelThresholdTuner(_logistic()).fit(X, Y * 2)
    with pytest.raises(ValueError, match="59 rows but X has 60"):
        MultilabelThresholdTuner(_logistic()).fit(X, Y[:59])


def test_inside_pipeline_and_grid_search():
    X, Y = _linear_data(n=300)
    pipeline = Pipeline([
        ("scale", StandardScaler()),
        ("tuner", MultilabelThresholdTuner(_logistic(), cv=3, random_state=0)),
    ])
    search = GridSearchCV(
        pipeline,
        {"tuner__estimator__estimator__C": [0.01, 1.0],
         "tuner__scoring": ["f1", "label_frequency"]},
        scoring=macro_f1_scorer,
        cv=MultilabelStratifiedKFold(3),
    ).fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert search.predict(X).shape == Y.shape
    assert search.best_estimator_["tuner"].best_thresholds_.shape == (4,)
    wrapped = MultilabelThresholdTuner(
        make_pipeline(StandardScaler(), _logistic()), cv=3, random_state=0
    ).fit(X, Y)
    assert wrapped.predict(X).shape == Y.shape


# -------------------------------------------------------------- gains over the 0.5 threshold


def _heldout_macro_f1(estimator, X_train, Y_train, X_test, Y_test):
    tuned = MultilabelThresholdTuner(clone(estimator), cv=3, random_state=0).fit(X_train, Y_train)
    fixed = clone(estimator).fit(X_train, Y_train)
    return (
        f1_score(Y_test, tuned.predict(X_test), average="macro", zero_division=0),
        f1_score(Y_test, fixed.predict(X_test), average="macro", zero_division=0),
    )


def test_tuned_beats_the_fixed_threshold_on_imbalanced_data():
    X, Y = _linear_data(n=1600, seed=4)
    assert Y.mean(axis=0)[-1] < 0.1  # rare classes, whose probabilities rarely reach 0.5
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(X, Y, test_size=0.5)
    tuned, fixed = _heldout_macro_f1(_logistic(), X_train, Y_train, X_test, Y_test)
    assert tuned > fixed


def test_tuned_is_not_worse_on_hpa_like_images():
    from hpa_sklearn.datasets._synthetic import make_hpa_like

    classes = [0, 2, 4, 5, 7, 21, 23, 25]
    X, Y = make_hpa_like(800, 32, random_state=0, classes=classes, return_X_y=True)
    Y = Y[:, classes]
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(X, Y, test_size=0.25)

    def flatten(images):
        return images.reshape(len(images), -1) / 255.0

    estimator = make_pipeline(
        FunctionTransformer(flatten), PCA(40, random_state=0), StandardScaler(),
        MultiOutputClassifier(LogisticRegression(C=0.1)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare-class fold warnings
        tuned, fixed = _heldout_macro_f1(estimator, X_train, Y_train, X_test, Y_test)
    assert tuned >= fixed


# ------------------------------------------------------- strategies that hold on new data


def _few_positives_problem():
    """120 rows, 3 labels: label 0 common, label 1 with exactly 2 positives, label 2 with 3."""
    Y, P = _known_problem(seed=3, n=120)
    Y = Y[:, :3].copy()
    P = P[:, :3].copy()
    rng = np.random.RandomState(7)
    P[:, 1:] = np.round(rng.uniform(0.0, 0.45, size=(120, 2)), 3)  # rare: below 0.5
    Y[:, 1:] = 0
    Y[[4, 50], 1] = 1
    P[[4, 50], 1] = [0.43, 0.31]
    Y[[7, 8, 90], 2] = 1
    P[[7, 8, 90], 2] = [0.44, 0.41, 0.2]
    return Y, P


def _plain(P, Y, **params):
    return MultilabelThresholdTuner(_Lookup(P), cv=KFold(3), thresholds="exact", **params).fit(
        _ids(len(Y)), Y
    )


def test_min_positives_keeps_the_default_for_a_class_with_fewer_positives():
    Y, P = _few_positives_problem()
    plain = _plain(P, Y)
    assert plain.best_thresholds_[1] != 0.5 and plain.best_thresholds_[2] != 0.5
    gated = _plain(P, Y, min_positives=3, default_threshold=0.5)
    # 2 positives < 3: default; 3 positives and the common class: tuned as before
    assert gated.best_thresholds_[1] == 0.5
    np.testing.assert_array_equal(gated.best_thresholds_[[0, 2]], plain.best_thresholds_[[0, 2]])
    assert _plain(P, Y, min_positives=4, default_threshold=0.7).best_thresholds_[2] == 0.7
    np.testing.assert_array_equal(_plain(P, Y, min_positives=1).best_thresholds_,
                                  plain.best_thresholds_)
    expected = f1_score(Y, apply_thresholds(P, gated.best_thresholds_), average="macro",
                        zero_division=0)
    assert gated.best_score_ == pytest.approx(expected)
    assert gated.best_score_ <= plain.best_score_  # the plain thresholds are the optimum


def test_prior_strength_shrinks_toward_the_default_by_the_number_of_positives():
    Y, P = _few_positives_problem()
    plain = _plain(P, Y)
    shrunk = _plain(P, Y, prior_strength=4.0, default_threshold=0.6)
    n = Y.sum(axis=0)
    expected = (n * plain.best_thresholds_ + 4.0 * 0.6) / (n + 4.0)
    np.testing.assert_allclose(shrunk.best_thresholds_, expected, rtol=0, atol=1e-15)
    # the class with 2 positives moves 4/6 of the way, the common one 4/(n+4)
    moved = np.abs(shrunk.best_thresholds_ - plain.best_thresholds_) / np.abs(
        0.6 - plain.best_thresholds_)
    np.testing.assert_allclose(moved, 4.0 / (n + 4.0))
    np.testing.assert_array_equal(_plain(P, Y, prior_strength=0.0).best_thresholds_,
                                  plain.best_thresholds_)


def _hand_bootstrap(Y, P, n_bootstrap, seed, pick, default=0.5):
    """Each resample's threshold by the plain rule, from the same draws, then their mean."""
    rng = np.random.RandomState(seed)
    chosen = []
    for _ in range(n_bootstrap):
        rows = rng.randint(0, len(Y), size=len(Y))
        y, p = Y[rows], P[rows]
        chosen.append([pick(y[:, j], p[:, j]) if y[:, j].any() else default
                       for j in range(Y.shape[1])])
    return np.array(chosen)


def _first_best(candidates):
    """The smallest candidate with the highest F1 = 2 TP / (positives + predicted)."""
    def pick(y, p):
        c = np.sort(candidates(p))
        predicted = p[None, :] >= c[:, None]
        f1 = 2 * (predicted & (y[None, :] == 1)).sum(axis=1) / (y.sum() + predicted.sum(axis=1))
        return c[int(np.argmax(f1))]
    return pick


BOOTSTRAP_RULES = {
    "exact": ({"thresholds": "exact"}, _first_best(np.unique)),
    "int": ({"thresholds": 7}, _first_best(lambda p: np.linspace(p.min(), p.max(), 7))),
    "array": ({"thresholds": [0.8, 0.2, 0.5, 0.35]},
              _first_best(lambda p: np.array([0.2, 0.35, 0.5, 0.8]))),
    "label_frequency": ({"scoring": "label_frequency"},
                        lambda y, p: np.sort(p)[::-1][y.sum() - 1]),
}


@pytest.mark.parametrize("rule", BOOTSTRAP_RULES)
def test_bootstrap_thresholds_equal_a_hand_computation(rule):
    params, pick = BOOTSTRAP_RULES[rule]
    rng = np.random.RandomState(4)
    Y = rng.binomial(1, [0.5, 0.25, 0.1], size=(16, 3))
    Y[[0, 1], 2] = [1, 0]  # label 2: few positives, often none in a resample
    P = np.round(np.clip(Y * 0.3 + rng.rand(16, 3) * 0.7, 0, 1), 2)
    tuner = MultilabelThresholdTuner(_Lookup(P), cv=KFold(2), n_bootstrap=25, random_state=11,
                                     store_cv_results=True, **params).fit(_ids(16), Y)
    hand = _hand_bootstrap(Y, P, 25, 11, pick)
    np.testing.assert_allclose(tuner.cv_results_["bootstrap_thresholds"], hand, rtol=0,
                               atol=1e-15)
    np.testing.assert_allclose(tuner.best_thresholds_, hand.mean(axis=0), rtol=0, atol=1e-15)
    assert (hand[:, 2] == 0.5).any()  # resamples without a positive contribute the default
    np.testing.assert_array_equal(tuner.cv_results_["n_positives"], Y.sum(axis=0))


def test_bootstrap_on_a_tiny_example():
    # 4 rows, 2 resamples drawn with seed 0: rows [0, 3, 1, 0] and [3, 3, 3, 3]
    assert np.random.RandomState(0).randint(0, 4, size=(2, 4)).tolist() == [[0, 3, 1, 0],
                                                                           [3, 3, 3, 3]]
    y = np.array([[1], [0], [1], [0]])
    p = np.array([[0.9], [0.6], [0.4], [0.2]])
    tuner = MultilabelThresholdTuner(_Lookup(p), cv=KFold(2), thresholds="exact",
                                     n_bootstrap=2, random_state=0).fit(_ids(4), y)
    # resample 1 (scores 0.9, 0.2, 0.6, 0.9; positives the two 0.9s): best threshold 0.9
    # resample 2 (row 3 four times): no positive, default 0.5; mean (0.9 + 0.5) / 2
    assert tuner.best_thresholds_.tolist() == [pytest.approx(0.7)]


def test_bootstrap_is_deterministic_and_composes_with_the_other_options():
    Y, P = _few_positives_problem()

    def fit(**params):
        return MultilabelThresholdTuner(_Lookup(P), cv=KFold(3), **params).fit(_ids(len(Y)), Y)

    first = fit(n_bootstrap=30, random_state=0)
    np.testing.assert_array_equal(first.best_thresholds_,
                                  fit(n_bootstrap=30, random_state=0).best_thresholds_)
    assert not np.array_equal(first.best_thresholds_,
                              fit(n_bootstrap=30, random_state=1).best_thresholds_)
    restored = pickle.loads(pickle.dumps(clone(first).fit(_ids(len(Y)), Y)))
    np.testing.assert_array_equal(restored.best_thresholds_, first.best_thresholds_)
    both = fit(n_bootstrap=30, random_state=0, min_positives=3, prior_strength=2.0)
    n = Y.sum(axis=0)
    mean = np.where(n < 3, 0.5, first.best_thresholds_)
    np.testing.assert_allclose(both.best_thresholds_, (n * mean + 2.0 * 0.5) / (n + 2.0))
    assert first.best_score_ <= fit().best_score_


def test_bootstrap_of_many_rows_matches_the_loop_in_several_blocks(monkeypatch):
    import hpa_sklearn.thresholds as module

    rng = np.random.RandomState(5)
    Y = rng.binomial(1, [0.3, 0.05, 0.01, 0.5], size=(300, 4))
    P = np.round(rng.rand(300, 4) * 0.5 + Y * 0.3, 3)
    monkeypatch.setattr(module, "_BOOTSTRAP_BLOCK_CELLS", 300 * 4 * 3)  # 3 replicates a block
    tuner = MultilabelThresholdTuner(_Lookup(P), cv=KFold(2), n_bootstrap=10, random_state=2,
                                     thresholds=20, store_cv_results=True).fit(_ids(300), Y)
    hand = _hand_bootstrap(Y, P, 10, 2, _first_best(lambda p: np.linspace(p.min(), p.max(), 20)))
    np.testing.assert_allclose(tuner.cv_results_["bootstrap_thresholds"], hand, rtol=0,
                               atol=1e-15)


def test_a_class_without_positives_still_warns_with_every_strategy():
    Y, P = _few_positives_problem()
    Y[:, 2] = 0
    for params in [{"n_bootstrap": 5, "random_state": 0}, {"min_positives": 3},
                   {"prior_strength": 3.0}]:
        with pytest.warns(UserWarning, match=r"2 \(class 2\).*default_threshold=0.5"):
            tuner = _plain(P, Y, **params)
        assert tuner.best_thresholds_[2] == 0.5


def test_invalid_strategy_parameters_name_the_parameter_and_the_value():
    Y, P = _few_positives_problem()
    for params, match in [
        ({"n_bootstrap": 0}, r"'n_bootstrap' parameter .* Got 0 instead"),
        ({"n_bootstrap": 2.5}, r"'n_bootstrap' parameter .* Got 2.5 instead"),
        ({"min_positives": 0}, r"'min_positives' parameter .* Got 0 instead"),
        ({"min_positives": "5"}, r"'min_positives' parameter .* Got '5' instead"),
        ({"prior_strength": -1.0}, r"'prior_strength' parameter .* Got -1.0 instead"),
        ({"prior_strength": np.inf}, r"'prior_strength' parameter .* Got inf instead"),
    ]:
        with pytest.raises((InvalidParameterError, ValueError), match=match):
            _plain(P, Y, **params)
