"""HPAFoldEnsemble as a scikit-learn estimator (clone, fit per fold, from_fitted, save and load),
and a MultilabelThresholdTuner with ``refit=False`` (whose model is such an ensemble) saved and
loaded. The small CNN stands in for every backbone."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import NotFittedError

import hpa_sklearn
from hpa_sklearn import (
    HPAClassifier,
    MultilabelStratifiedKFold,
    MultilabelThresholdTuner,
)
from hpa_sklearn.datasets import make_hpa_like
from hpa_sklearn.ensemble import HPAFoldEnsemble
from hpa_sklearn.exceptions import InputError, ModelFolderError

SMALL = dict(backbone="smallcnn", weights=None, epochs=1, batch_size=8, hidden_units=16,
             decay=0.0, learning_rate=1e-3, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_hpa_like(n_samples=32, image_size=32, random_state=0, return_X_y=True)


@pytest.fixture(scope="module")
def ensemble(data):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with one positive among 32 rows
        return HPAFoldEnsemble(HPAClassifier(**SMALL), cv=2, threshold=0.4,
                               random_state=0).fit(X, Y)


@pytest.fixture(scope="module")
def tuner(data):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ... and classes with none
        return MultilabelThresholdTuner(HPAClassifier(**SMALL), cv=2, refit=False,
                                        random_state=0).fit(X, Y)


class _Recorder(BaseEstimator):
    """Remembers the rows it was fitted on (the first pixel of each image is its row number)."""

    def fit(self, X, Y):
        self.rows_ = sorted(int(x) for x in np.asarray(X)[:, 0, 0, 0])
        self.n_outputs_ = Y.shape[1]
        return self

    def predict_proba(self, X):
        return np.full((len(X), self.n_outputs_), 0.5)


def test_clone_and_params():
    ensemble = HPAFoldEnsemble(HPAClassifier(**SMALL), cv=3, threshold=0.3,
                               at_least_one_label=True, random_state=7)
    assert is_classifier(ensemble)
    copy_ = clone(ensemble)
    assert copy_ is not ensemble and copy_.estimator is not ensemble.estimator
    assert copy_.get_params(deep=False).keys() == ensemble.get_params(deep=False).keys()
    assert (copy_.cv, copy_.threshold, copy_.at_least_one_label, copy_.random_state) == (
        3, 0.3, True, 7)
    assert copy_.get_params()["estimator__backbone"] == "smallcnn"
    copy_.set_params(estimator__epochs=2)
    assert copy_.estimator.epochs == 2 and ensemble.estimator.epochs == 1
    with pytest.raises(NotFittedError):
        copy_.predict_proba(np.zeros((1, 32, 32, 4), np.uint8))
    with pytest.raises(InputError, match="needs an estimator"):
        HPAFoldEnsemble(cv=2).fit(np.zeros((4, 32, 32, 4), np.uint8), np.eye(4, 28, dtype=int))


def test_fit_trains_one_member_per_fold_on_its_training_rows():
    X = np.zeros((12, 2, 2, 1), dtype=np.uint8)
    X[:, 0, 0, 0] = np.arange(12)
    Y = np.tile(np.eye(3, dtype=np.uint8), (4, 1))
    ensemble = HPAFoldEnsemble(_Recorder(), cv=3, random_state=0).fit(X, Y)
    folds = list(MultilabelStratifiedKFold(3, random_state=0).split(X, Y))
    assert len(ensemble.estimators_) == 3
    assert [m.rows_ for m in ensemble.estimators_] == [sorted(train) for train, _ in folds]
    assert not hasattr(ensemble.estimator, "rows_")  # the template stays unfitted


def test_fitted_ensemble_of_classifiers(ensemble, tuner, data):
    X, _ = data
    members = ensemble.estimators_
    assert len(members) == 2 and members[0] is not members[1]
    assert all(isinstance(m, HPAClassifier) and m is not ensemble.estimator for m in members)
    assert not ensemble.estimator.__sklearn_is_fitted__()
    assert ensemble.image_shape_ == (32, 32, 4) and ensemble.n_outputs_ == 28
    np.testing.assert_array_equal(ensemble.classes_, np.arange(28))
    proba = ensemble.predict_proba(X)
    expected = np.mean([m.predict_proba(X) for m in members], axis=0)
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    np.testing.assert_array_equal(ensemble.predict(X), (proba >= 0.4).astype(np.uint8))
    assert len(ensemble.history_["loss"]) == 1
    # the same folds and seeds as the tuner's cross-validation: the same fold models
    np.testing.assert_allclose(proba, tuner.predict_proba(X), rtol=1e-6, atol=1e-7)
    # a clone of the fitted ensemble is unfitted, with the same parameters
    fresh = clone(ensemble)
    assert not hasattr(fresh, "estimators_") and fresh.cv == 2 and fresh.threshold == 0.4


def test_from_fitted_wraps_models_fitted_elsewhere(tuner, data):
    X, _ = data
    members = tuner.estimator_.estimators_
    assert isinstance(tuner.estimator_, HPAFoldEnsemble) and len(members) == 2
    ensemble = HPAFoldEnsemble.from_fitted(members, threshold=tuner.best_thresholds_,
                                           at_least_one_label=True)
    assert ensemble.estimators_ == members and ensemble.cv == 2
    assert not ensemble.estimator.__sklearn_is_fitted__()
    np.testing.assert_array_equal(ensemble.predict_proba(X), tuner.predict_proba(X))
    pred = ensemble.predict(X)
    assert pred.shape == (len(X), 28) and pred.sum(axis=1).min() >= 1  # at least one label
    again = clone(ensemble)
    assert again.cv == 2 and not hasattr(again, "estimators_")
    with pytest.raises(InputError, match="at least one fitted estimator"):
        HPAFoldEnsemble.from_fitted([])
    with pytest.raises(InputError, match=r"estimators\[1\] is not fitted"):
        HPAFoldEnsemble.from_fitted([members[0], HPAClassifier(**SMALL)])
    other = copy.copy(members[1])
    other.image_shape_ = (64, 64, 4)
    with pytest.raises(InputError, match=r"estimators\[1\] differs from estimators\[0\] in "
                                         r"image_shape_"):
        HPAFoldEnsemble.from_fitted([members[0], other])


def test_ensemble_save_load_round_trip(ensemble, data, tmp_path):
    X, _ = data
    folder = ensemble.save(tmp_path / "ensemble", run={"note": "two folds"})
    assert sorted(p.name for p in folder.iterdir()) == ["fold-1", "fold-2", "hpa-sklearn.json"]
    for loaded in (hpa_sklearn.load_model(folder), HPAFoldEnsemble.load(folder)):
        assert type(loaded) is HPAFoldEnsemble and len(loaded.estimators_) == 2
        assert (loaded.threshold, loaded.cv, loaded.at_least_one_label) == (0.4, 2, False)
        np.testing.assert_array_equal(loaded.predict_proba(X), ensemble.predict_proba(X))
        np.testing.assert_array_equal(loaded.predict(X), ensemble.predict(X))
        assert all(m.checkpoint_dir is None for m in loaded.estimators_)
        assert clone(loaded).estimator.backbone == "smallcnn"
    with pytest.raises(ModelFolderError, match="holds a saved HPAFoldEnsemble, not a "
                                               "HPAClassifier"):
        HPAClassifier.load(folder)


def test_tuner_without_refit_saved_and_loaded_predicts_the_same(tuner, data, tmp_path):
    X, _ = data
    folder = tuner.save(tmp_path / "tuner")
    loaded = hpa_sklearn.load_model(folder)
    assert type(loaded) is MultilabelThresholdTuner and loaded.refit is False
    assert isinstance(loaded.estimator_, HPAFoldEnsemble)
    assert len(loaded.estimator_.estimators_) == 2
    np.testing.assert_array_equal(loaded.best_thresholds_, tuner.best_thresholds_)
    assert loaded.best_score_ == tuner.best_score_
    np.testing.assert_array_equal(loaded.predict_proba(X), tuner.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), tuner.predict(X))
    assert type(MultilabelThresholdTuner.load(folder)) is MultilabelThresholdTuner
