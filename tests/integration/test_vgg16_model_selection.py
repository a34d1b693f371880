"""The report's VGG16 inside scikit-learn's model selection, once for the whole suite: a Pipeline
(ChannelSelector + HPAVGG16Classifier) searched by GridSearchCV over a slice of the report's
table, cross_val_score with the macro-F1 scorer, and per-class threshold tuning by
MultilabelThresholdTuner, judged on held-out images.

Every other test trains the small CNN where the backbone is not the subject; this module is the
one place the report's network goes through the whole model-selection path.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from hpa_sklearn import (
    ChannelSelector,
    HPAVGG16Classifier,
    MultilabelStratifiedKFold,
    MultilabelThresholdTuner,
    macro_f1,
    macro_f1_scorer,
    multilabel_train_test_split,
    report_param_grid,
)
from hpa_sklearn._decision import apply_thresholds
from hpa_sklearn.datasets import make_hpa_like

SMALL = dict(weights=None, epochs=1, batch_size=16, hidden_units=32, verbose=0, random_state=0)
CLASSES = [0, 2, 21, 25]  # nucleoplasm, nucleoli, plasma membrane, cytosol: distinct patterns


def _pipeline(**params):
    return Pipeline([("channels", ChannelSelector("all")),
                     ("classifier", HPAVGG16Classifier(**{**SMALL, **params}))])


@pytest.fixture(scope="module")
def split():
    X, Y = make_hpa_like(160, 32, random_state=1, classes=CLASSES, return_X_y=True)
    return multilabel_train_test_split(X, Y[:, CLASSES], test_size=0.25, random_state=0)


@pytest.fixture(scope="module")
def search(split):
    X_train, _, Y_train, _ = split
    grid = report_param_grid()
    grid = {**{k: v[:1] for k, v in grid.items()},
            "classifier__learning_rate": grid["classifier__learning_rate"][-2:]}
    return GridSearchCV(_pipeline(), grid, scoring=macro_f1_scorer,
                        cv=MultilabelStratifiedKFold(2, random_state=0)).fit(X_train, Y_train)


def test_grid_search_over_a_slice_of_the_report_table(search, split):
    _, X_test, _, _ = split
    results = search.cv_results_
    scores = results["mean_test_score"]
    assert len(scores) == 2 and np.all(np.isfinite(scores))
    assert np.all((scores >= 0) & (scores <= 1))
    assert [p["classifier__learning_rate"] for p in results["params"]] == [0.0005, 0.0001]
    # the rest of the slice is the report's first row of each column
    params = results["params"][0]
    assert (params["classifier__batch_size"], params["classifier__optimizer"],
            params["classifier__activation"], params["classifier__dropout"]) == (
        16, "adam", "relu", 0.1)
    assert search.best_params_["classifier__learning_rate"] in (0.0005, 0.0001)
    best = search.best_estimator_.named_steps["classifier"]
    assert type(best) is HPAVGG16Classifier and best.model_.name == "hpa_vgg16"
    assert best.image_shape_ == (32, 32, 4) and best.n_outputs_ == 4
    assert search.predict(X_test[:3]).shape == (3, 4)


def test_cross_val_score_with_the_macro_f1_scorer_repeats_the_search(search, split):
    X_train, _, Y_train, _ = split
    best = clone(search.estimator).set_params(**search.best_params_)
    scores = cross_val_score(best, X_train, Y_train, scoring=macro_f1_scorer,
                             cv=MultilabelStratifiedKFold(2, random_state=0))
    assert scores.shape == (2,) and np.all(np.isfinite(scores))
    # the same folds, parameters and seeds as the search's best candidate: the same scores
    i = search.best_index_
    np.testing.assert_allclose(
        scores, [search.cv_results_[f"split{k}_test_score"][i] for k in range(2)], atol=1e-12)


def test_tuned_thresholds_are_not_worse_than_half_on_held_out_images(search, split):
    X_train, X_test, Y_train, Y_test = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        # refit=False keeps the fold models (an ensemble of them): no third fit on all the rows
        tuner = MultilabelThresholdTuner(clone(search.best_estimator_), cv=2, refit=False,
                                         random_state=0).fit(X_train, Y_train)
    assert tuner.best_thresholds_.shape == (4,) and len(tuner.estimator_.estimators_) == 2
    proba = tuner.predict_proba(X_test)
    np.testing.assert_array_equal(tuner.predict(X_test),
                                  apply_thresholds(proba, tuner.best_thresholds_))
    tuned = macro_f1(Y_test, tuner.predict(X_test))
    fixed = macro_f1(Y_test, apply_thresholds(proba, 0.5))
    assert tuned >= fixed
