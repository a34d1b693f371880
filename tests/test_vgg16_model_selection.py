"""The VGG16 classifier inside scikit-learn's model selection: GridSearchCV over the report's
table, cross_val_score with the macro-F1 scorer, and per-class threshold tuning."""

import warnings

import numpy as np
import pytest
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


@pytest.fixture(scope="module")
def images():
    X, Y = make_hpa_like(64, 32, random_state=0, classes=CLASSES, return_X_y=True)
    return X, Y


def _pipeline(**params):
    return Pipeline([("channels", ChannelSelector("all")),
                     ("classifier", HPAVGG16Classifier(**{**SMALL, **params}))])


def test_grid_search_over_a_slice_of_the_report_table(images):
    X, Y = images
    grid = report_param_grid()
    grid = {**{k: v[:1] for k, v in grid.items()},
            "classifier__learning_rate": grid["classifier__learning_rate"][-2:]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes of 28 absent from these 64 images
        search = GridSearchCV(_pipeline(), grid, scoring=macro_f1_scorer,
                              cv=MultilabelStratifiedKFold(2, random_state=0)).fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert search.best_params_["classifier__learning_rate"] in (0.0005, 0.0001)
    assert search.predict(X[:3]).shape == (3, 28)


def test_cross_val_score_with_the_macro_f1_scorer(images):
    X, Y = images
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = cross_val_score(_pipeline(), X, Y, scoring=macro_f1_scorer,
                                 cv=MultilabelStratifiedKFold(2, random_state=0))
    assert scores.shape == (2,) and np.all(np.isfinite(scores))


@pytest.mark.slow
def test_tuned_thresholds_are_not_worse_than_half_on_held_out_images():
    X, Y = make_hpa_like(240, 32, random_state=1, classes=CLASSES, return_X_y=True)
    Y = Y[:, CLASSES]
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(X, Y, test_size=0.25,
                                                                   random_state=0)
    classifier = HPAVGG16Classifier(**{**SMALL, "epochs": 2})
    tuner = MultilabelThresholdTuner(classifier, cv=2, random_state=0).fit(X_train, Y_train)
    proba = tuner.predict_proba(X_test)
    tuned = macro_f1(Y_test, tuner.predict(X_test))
    fixed = macro_f1(Y_test, apply_thresholds(proba, 0.5))
    assert tuned >= fixed
    assert tuner.best_thresholds_.shape == (4,)
