"""Tests of hpa_sklearn.metrics: threshold curves against brute force, per-class tables, bootstrap."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.utils._param_validation import InvalidParameterError

from hpa_sklearn._decision import apply_thresholds
from hpa_sklearn.datasets import CLASS_NAMES
from hpa_sklearn.metrics import (
    bootstrap_macro_f1,
    f1_threshold_curves,
    macro_f1,
    macro_f1_scorer,
    per_class_f1,
    per_class_scores,
)
from sklearn.metrics import f1_score


def _scores_with_degenerate_columns(rng, n=60):
    """Y and scores where column 0 is ordinary, 1 has heavy ties, 2 is exactly 0/1, 3 is constant,
    4 has no positive and 5 is all positive."""
    Y = rng.binomial(1, [0.3, 0.4, 0.2, 0.3, 0.0, 1.0], size=(n, 6))
    scores = np.column_stack(
        [
            rng.rand(n),
            np.round(rng.rand(n), 1),
            rng.binomial(1, 0.5, size=n).astype(float),
            np.full(n, 0.3),
            rng.rand(n),
            rng.rand(n),
        ]
    )
    return Y, scores


def _brute_force_f1(Y, scores, candidates):
    """sklearn's F1 of ``scores >= t`` for every candidate t of every column: per column, one
    multi-label ``f1_score`` call whose columns are the candidates (the same numbers as one binary
    call per candidate; a spare column keeps a single candidate from reading as binary)."""
    out = np.empty(candidates.shape)
    for j in range(Y.shape[1]):
        column = np.append(candidates[:, j], candidates[:1, j])
        predicted = (scores[:, j][:, None] >= column[None, :]).astype(int)
        truth = np.repeat(Y[:, j][:, None], len(column), axis=1)
        out[:, j] = f1_score(truth, predicted, average=None, zero_division=0)[:-1]
    return out


@pytest.mark.parametrize("thresholds", [7, "exact", [0.0, 0.25, 0.3, 0.5, 0.99, 1.0]])
def test_f1_threshold_curves_equal_brute_force(thresholds):
    rng = np.random.RandomState(0)
    Y, scores = _scores_with_degenerate_columns(rng)
    candidates, f1 = f1_threshold_curves(Y, scores, thresholds=thresholds)
    assert candidates.shape == f1.shape and candidates.shape[1] == Y.shape[1]
    assert np.all(np.diff(candidates, axis=0) >= 0)
    np.testing.assert_allclose(f1, _brute_force_f1(Y, scores, candidates), rtol=0, atol=1e-12)


def test_f1_threshold_curves_candidate_sets():
    rng = np.random.RandomState(1)
    Y, scores = _scores_with_degenerate_columns(rng)
    linear, _ = f1_threshold_curves(Y, scores, thresholds=5)
    for j in range(scores.shape[1]):
        np.testing.assert_array_equal(
            linear[:, j], np.linspace(scores[:, j].min(), scores[:, j].max(), 5)
        )
    exact, _ = f1_threshold_curves(Y, scores, thresholds="exact")
    for j in range(scores.shape[1]):
        np.testing.assert_array_equal(exact[:, j], np.sort(scores[:, j]))
    given, _ = f1_threshold_curves(Y, scores, thresholds=[0.5, 0.1, 0.5])
    np.testing.assert_array_equal(given, np.tile([[0.1], [0.5]], (1, 6)))


def test_exact_candidates_reach_the_optimum_of_any_grid():
    rng = np.random.RandomState(2)
    Y, scores = _scores_with_degenerate_columns(rng, n=80)
    _, exact = f1_threshold_curves(Y, scores, thresholds="exact")
    fine = np.linspace(-0.01, 1.01, 2001)
    _, on_grid = f1_threshold_curves(Y, scores, thresholds=fine)
    np.testing.assert_allclose(exact.max(axis=0), on_grid.max(axis=0), atol=1e-12)


def test_f1_threshold_curves_rejects_bad_input():
    Y = np.array([[1, 0], [0, 1], [1, 1]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]])
    with pytest.raises(ValueError, match="y_score has shape"):
        f1_threshold_curves(Y, scores[:, :1])
    with pytest.raises(ValueError, match="NaN"):
        f1_threshold_curves(Y, np.where(scores > 0.85, np.nan, scores))
    with pytest.raises(ValueError, match="thresholds must be"):
        f1_threshold_curves(Y, scores, thresholds=[])
    with pytest.raises(InvalidParameterError, match="thresholds"):
        f1_threshold_curves(Y, scores, thresholds=1)
    with pytest.raises(ValueError, match="only 0 and 1"):
        f1_threshold_curves(Y * 2, scores)


def test_per_class_f1_and_macro_scorer_agree_with_sklearn():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(200, 4))
    Y = (X[:, :3] + rng.normal(size=(200, 3)) > [0.0, 1.0, 2.5]).astype(int)
    Y = np.column_stack([Y, np.zeros(200, dtype=int)])  # a class nobody has
    Y[0, 3] = 1  # ... except one sample, so that the classifier can be fitted
    model = MultiOutputClassifier(LogisticRegression()).fit(X, Y)
    Y_pred = model.predict(X)
    f1 = per_class_f1(Y, Y_pred)
    np.testing.assert_allclose(f1, f1_score(Y, Y_pred, average=None, zero_division=0))
    assert macro_f1_scorer(model, X, Y) == pytest.approx(f1.mean())


def test_macro_f1_equals_sklearn_and_scores_a_single_column_as_one_label():
    rng = np.random.RandomState(9)
    Y = rng.binomial(1, [0.5, 0.1, 0.0], size=(50, 3))
    Y_pred = rng.binomial(1, [0.5, 0.2, 0.0], size=(50, 3))
    weights = rng.rand(50)
    assert macro_f1(Y, Y_pred) == pytest.approx(
        f1_score(Y, Y_pred, average="macro", zero_division=0)
    )
    assert macro_f1(Y, Y_pred, sample_weight=weights) == pytest.approx(
        f1_score(Y, Y_pred, average="macro", zero_division=0, sample_weight=weights)
    )
    # one label column: the F1 of that label, not the mean over its 0s and 1s
    assert macro_f1(Y[:, :1], Y_pred[:, :1]) == pytest.approx(f1_score(Y[:, 0], Y_pred[:, 0]))
    np.testing.assert_allclose(per_class_f1(Y[:, :1], Y_pred[:, :1]), [f1_score(Y[:, 0], Y_pred[:, 0])])
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        macro_f1(Y, Y_pred, sample_weight=weights[:3])


def test_per_class_scores_table():
    Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
    Y_pred = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]])
    table = per_class_scores(Y, Y_pred, class_names=["a", "b", "c"])
    assert list(table.index) == ["a", "b", "c"]
    np.testing.assert_allclose(table["precision"], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(table["recall"], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(table["f1"], [0.5, 0.5, 0.0])
    np.testing.assert_array_equal(table["support"], [2, 2, 0])
    np.testing.assert_array_equal(table["predicted"], [2, 2, 0])

    rng = np.random.RandomState(4)
    Y28 = rng.binomial(1, 0.2, size=(30, 28))
    assert list(per_class_scores(Y28, Y28).index) == list(CLASS_NAMES)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        per_class_scores(Y, Y_pred, class_names=["a", "b"])
    with pytest.raises(ValueError, match="3 label columns but Y_pred has 2"):
        per_class_scores(Y, Y_pred[:, :2])


def test_bootstrap_replicates_equal_f1_score_on_the_same_draws():
    rng = np.random.RandomState(5)
    n, n_boot, seed = 40, 50, 7
    Y = rng.binomial(1, [0.5, 0.2, 0.0], size=(n, 3))
    Y[0, 2] = 1  # a class with one positive: many replicates miss it
    Y_pred = np.where(rng.rand(n, 3) < 0.75, Y, 1 - Y)
    result = bootstrap_macro_f1(Y, Y_pred, n_boot=n_boot, random_state=seed)

    assert result.score == pytest.approx(f1_score(Y, Y_pred, average="macro", zero_division=0))
    draws = np.random.RandomState(seed).randint(0, n, size=(n_boot, n))
    assert any(0 not in rows for rows in draws)  # the absent-class case is exercised
    expected = [
        f1_score(Y[rows], Y_pred[rows], average="macro", zero_division=0) for rows in draws
    ]
    np.testing.assert_allclose(result.replicates, expected, atol=1e-12)
    low, high = np.percentile(expected, [2.5, 97.5])
    assert (result.low, result.high) == pytest.approx((low, high))


def test_bootstrap_interval_is_reproducible_and_shrinks_with_more_data():
    rng = np.random.RandomState(6)

    def noisy_copy(n):
        Y = rng.binomial(1, [0.4, 0.1, 0.05], size=(n, 3))
        return Y, np.where(rng.rand(n, 3) < 0.8, Y, 1 - Y)

    Y, Y_pred = noisy_copy(300)
    first = bootstrap_macro_f1(Y, Y_pred, n_boot=300, random_state=0)
    again = bootstrap_macro_f1(Y, Y_pred, n_boot=300, random_state=0)
    np.testing.assert_array_equal(first.replicates, again.replicates)
    assert first.low < first.score < first.high
    narrow = bootstrap_macro_f1(*noisy_copy(6000), n_boot=300, random_state=0)
    assert narrow.high - narrow.low < (first.high - first.low) / 2
    wider = bootstrap_macro_f1(Y, Y_pred, n_boot=300, confidence_level=0.99, random_state=0)
    assert wider.low <= first.low and wider.high >= first.high


def test_bootstrap_blocks_match_one_block(monkeypatch):
    import hpa_sklearn.metrics as metrics

    rng = np.random.RandomState(8)
    Y = rng.binomial(1, 0.3, size=(50, 4))
    Y_pred = apply_thresholds(rng.rand(50, 4), 0.6)
    whole = bootstrap_macro_f1(Y, Y_pred, n_boot=20, random_state=1)
    monkeypatch.setattr(metrics, "_BOOTSTRAP_BLOCK_CELLS", 3 * 50)  # blocks of 3 replicates
    blocked = bootstrap_macro_f1(Y, Y_pred, n_boot=20, random_state=1)
    np.testing.assert_allclose(blocked.replicates, whole.replicates)


def test_bootstrap_rejects_bad_arguments():
    Y = np.eye(3, dtype=int)
    with pytest.raises(InvalidParameterError, match="confidence_level"):
        bootstrap_macro_f1(Y, Y, confidence_level=1.0)
    with pytest.raises(InvalidParameterError, match="n_boot"):
        bootstrap_macro_f1(Y, Y, n_boot=0)
    with pytest.raises(ValueError, match="Y_pred has 2 rows"):
        bootstrap_macro_f1(Y, Y[:2])
