"""The report's VGG16 inside scikit-learn's model selection, once for the whole suite: the README's
Python example, run as written (its data, its settings), is a Pipeline (ChannelSelector +
HPAVGG16Classifier) scored by ``cross_val_score`` with the macro-F1 scorer on
multilabel-stratified folds, searched by ``GridSearchCV`` over a slice of the report's table and
given per-class thresholds by ``MultilabelThresholdTuner``. The tests check what it computed:
the search's candidates, the scores repeated exactly by the same folds and seeds, and the tuned
thresholds on the out-of-fold probabilities they were tuned on and on new images.

Every other test trains the small CNN where the backbone is not the subject; this module is the
one place the report's network goes through the whole model-selection path.
"""

import ast
import importlib
import io
import re
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict

from hpa_sklearn import HPAVGG16Classifier, macro_f1
from hpa_sklearn._decision import apply_thresholds
from hpa_sklearn.datasets import make_hpa_like

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_python_block():
    """The README's first ```python block (the example the README shows first)."""
    match = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert match, "README.md has no ```python block"
    return match.group(1)


def test_readme_example_block_imports_only_names_that_exist():
    tree = ast.parse(readme_python_block(), str(README))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert any(node.module == "hpa_sklearn" for node in imports)
    for node in imports:
        module = importlib.import_module(node.module)
        for alias in node.names:
            assert hasattr(module, alias.name), f"README imports {node.module}.{alias.name}"


@pytest.fixture(scope="module")
def readme():
    """The README's example run as ``python`` would run it: (its global names, what it printed)."""
    namespace = {"__name__": "__main__"}
    printed = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(printed):
        # classes without positives in a fold are warned about and known (28 classes, 96 images)
        warnings.simplefilter("ignore", UserWarning)
        exec(compile(readme_python_block(), str(README), "exec"), namespace)
    return namespace, printed.getvalue()


@pytest.mark.slow
def test_the_readme_example_runs_and_prints_its_results(readme):
    namespace, printed = readme
    for name in ("X", "Y", "pipeline", "cv", "scores", "search", "tuned"):
        assert name in namespace, f"the README example no longer defines {name!r}"
    lines = printed.strip().splitlines()
    assert len(lines) >= 3, printed
    assert "classifier__learning_rate" in printed
    scores = namespace["scores"]
    assert scores.shape == (namespace["cv"].get_n_splits(),)
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.slow
def test_grid_search_over_a_slice_of_the_report_table(readme):
    namespace, _ = readme
    search, X = namespace["search"], namespace["X"]
    results = search.cv_results_
    assert [p["classifier__learning_rate"] for p in results["params"]] == [0.0005, 0.0001]
    assert np.all(np.isfinite(results["mean_test_score"]))
    assert search.best_params_["classifier__learning_rate"] in (0.0005, 0.0001)
    best = search.best_estimator_.named_steps["classifier"]
    assert type(best) is HPAVGG16Classifier and best.model_.name == "hpa_vgg16"
    assert best.image_shape_ == X.shape[1:] and best.n_outputs_ == 28
    assert search.predict(X[:3]).shape == (3, 28)


@pytest.mark.slow
def test_cross_val_score_repeats_the_search_on_the_same_folds_and_seeds(readme):
    """The example's ``cross_val_score`` trains the pipeline at the estimator's default learning
    rate, one of the searched ones: the same folds, parameters and seeds give the same scores."""
    namespace, _ = readme
    search, pipeline = namespace["search"], namespace["pipeline"]
    default = pipeline.get_params()["classifier__learning_rate"]
    candidates = [p["classifier__learning_rate"] for p in search.cv_results_["params"]]
    assert default in candidates, "the README's slice no longer holds the default learning rate"
    i = candidates.index(default)
    np.testing.assert_allclose(
        namespace["scores"],
        [search.cv_results_[f"split{k}_test_score"][i] for k in range(len(namespace["scores"]))],
        atol=1e-12)


@pytest.mark.slow
def test_tuned_thresholds_predict_and_beat_one_half_where_they_were_tuned(readme):
    """The tuner picks each class's threshold for the highest F1 on the out-of-fold
    probabilities: there, 0.5 cannot do better. (On new images nothing guarantees it, least of
    all for a network trained one epoch.)"""
    namespace, _ = readme
    tuned, search, X, Y, cv = (namespace[k] for k in ("tuned", "search", "X", "Y", "cv"))
    assert tuned.best_thresholds_.shape == (28,)
    assert np.all((tuned.best_thresholds_ >= 0) & (tuned.best_thresholds_ <= 1))
    # the tuner's out-of-fold probabilities again: the same folds, estimator and seeds
    oof = cross_val_predict(clone(search.best_estimator_), X, Y, cv=cv, method="predict_proba")
    at_tuned = macro_f1(Y, apply_thresholds(oof, tuned.best_thresholds_))
    assert at_tuned == pytest.approx(tuned.best_score_, abs=1e-12)
    assert at_tuned >= macro_f1(Y, apply_thresholds(oof, 0.5))
    # new images from the same generator, another seed: predict applies the tuned thresholds
    X_new, _ = make_hpa_like(n_samples=16, image_size=X.shape[1], random_state=1,
                             return_X_y=True)
    np.testing.assert_array_equal(
        tuned.predict(X_new), apply_thresholds(tuned.predict_proba(X_new), tuned.best_thresholds_))
