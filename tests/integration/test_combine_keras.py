"""A network trained on a combined view (``combine``'s ``LazyImages``) equals the one trained on the
concatenated array (moved from tests/test_combine.py; the view itself is tested in
tests/unit/test_combine.py)."""

import numpy as np

from hpa_sklearn.datasets import combine


def _images(n, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 4), dtype=np.uint8)


def _memmaps(tmp_path, sizes):
    arrays = []
    for i, n in enumerate(sizes):
        np.save(tmp_path / f"part{i}.npy", _images(n, seed=i))
        arrays.append(np.load(tmp_path / f"part{i}.npy", mmap_mode="r"))
    return arrays


def test_classifier_on_a_combined_view_equals_the_concatenated_array(tmp_path):
    """fit reads X[rows] (sorted), X[int] and the channel statistics' X[sorted rows] through
    np.asarray; predict reads contiguous blocks: a combined view must give the same network."""
    from hpa_sklearn import HPAVGG16Classifier

    rng = np.random.default_rng(0)
    parts = _memmaps(tmp_path, [13, 11])
    Y = np.zeros((24, 28), dtype=np.uint8)
    Y[np.arange(24), rng.integers(0, 28, 24)] = 1
    params = dict(weights=None, epochs=2, batch_size=8, hidden_units=16, verbose=0,
                  random_state=0, validation_fraction=0.25, early_stopping=True)
    lazy = combine(
        {"images": parts[0], "target": Y[:13], "ids": [f"a{i}" for i in range(13)]},
        {"images": parts[1], "target": Y[13:], "ids": [f"b{i}" for i in range(11)]},
    )
    on_view = HPAVGG16Classifier(**params).fit(lazy.images, lazy.target)
    on_array = HPAVGG16Classifier(**params).fit(np.concatenate(parts), Y)
    np.testing.assert_allclose(on_view.predict_proba(lazy.images),
                               on_array.predict_proba(np.concatenate(parts)), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(on_view.predict_proba(np.concatenate(parts)),
                               on_array.predict_proba(lazy.images), rtol=1e-5, atol=1e-6)
