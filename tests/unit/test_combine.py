"""Data sets joined without copying: ``LazyImages`` over several arrays and ``combine`` (a network
trained on a combined view: tests/integration/test_combine_keras.py)."""

import pickle

import numpy as np
import pytest

from sklearn.utils import Bunch

from hpa_sklearn.datasets import LazyImages, combine, make_hpa_like


def _images(n, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 4), dtype=np.uint8)


def _memmaps(tmp_path, sizes):
    arrays = []
    for i, n in enumerate(sizes):
        np.save(tmp_path / f"part{i}.npy", _images(n, seed=i))
        arrays.append(np.load(tmp_path / f"part{i}.npy", mmap_mode="r"))
    return arrays


def test_lazy_images_of_several_arrays_read_like_their_concatenation(tmp_path):
    parts = _memmaps(tmp_path, [5, 3, 4])
    whole = np.concatenate(parts)
    lazy = LazyImages(parts)
    assert len(lazy) == 12 and lazy.shape == whole.shape and lazy.ndim == 4
    assert lazy.dtype == np.uint8 and len(lazy.parts) == 3 and lazy.array == lazy.parts
    np.testing.assert_array_equal(np.asarray(lazy), whole)
    for i in (0, 4, 5, 7, 8, 11, -1, -12):  # every boundary, and negative rows
        np.testing.assert_array_equal(lazy[i], whole[i])
    rows = np.array([11, 0, 6, 4, 5, 9, 2])  # unsorted, across all parts
    view = lazy[rows]
    assert isinstance(view, LazyImages) and view.shape == (7, 32, 32, 4)
    np.testing.assert_array_equal(np.asarray(view), whole[rows])
    np.testing.assert_array_equal(np.asarray(view[2:5]), whole[rows[2:5]])  # views of views
    np.testing.assert_array_equal(np.asarray(lazy[3:9]), whole[3:9])  # a block across parts
    np.testing.assert_array_equal(np.asarray(lazy[rows, ...]), whole[rows])
    np.testing.assert_array_equal(lazy[1:4, 0], whole[1:4, 0])  # other tuples read the data
    assert np.asarray(lazy[6:8]).base is not None  # a block inside one part: a slice of it
    np.testing.assert_array_equal(np.asarray(view, dtype=np.float64), whole[rows].astype(float))
    # a list may mix arrays and views; the result flattens to the arrays underneath
    mixed = LazyImages([lazy[[1, 8]], parts[1]])
    assert len(mixed.parts) == 4
    np.testing.assert_array_equal(np.asarray(mixed), np.concatenate([whole[[1, 8]], parts[1]]))


def test_reads_are_sorted_within_each_array():
    reads = []

    class Recorded(np.ndarray):
        def __getitem__(self, key):
            if isinstance(key, np.ndarray):
                reads.append(key.tolist())
            return super().__getitem__(key)

    parts = [_images(6, seed=0).view(Recorded), _images(6, seed=1).view(Recorded)]
    lazy = LazyImages(parts)
    out = np.asarray(lazy[np.array([10, 1, 7, 3, 6, 0])])
    np.testing.assert_array_equal(out, np.concatenate(parts)[[10, 1, 7, 3, 6, 0]])
    assert reads == [[0, 1, 3], [0, 1, 4]]  # one sorted fancy read per array


def test_lazy_images_of_memmaps_pickle_as_paths(tmp_path):
    parts = _memmaps(tmp_path, [40, 30])
    view = LazyImages(parts)[np.array([39, 40, 2])]
    blob = pickle.dumps(view)
    assert len(blob) < 2000  # paths and rows, not 3 images of 4 KB
    back = pickle.loads(blob)
    assert all(isinstance(part, np.memmap) for part in back.parts)
    np.testing.assert_array_equal(np.asarray(back), np.concatenate(parts)[[39, 40, 2]])
    # an array in memory among them: the rows of the view travel
    memory = LazyImages([parts[0], np.asarray(parts[1])])[np.array([41, 0])]
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(memory))),
                                  np.concatenate(parts)[[41, 0]])


def test_lazy_images_refuse_arrays_that_do_not_match():
    with pytest.raises(ValueError, match="array 1 is uint8 \\(2, 16, 16, 4\\)"):
        LazyImages([_images(2), _images(2, size=16)])
    with pytest.raises(ValueError, match="array 1 is float32"):
        LazyImages([_images(2), _images(2).astype(np.float32)])
    with pytest.raises(ValueError, match="at least one array"):
        LazyImages([])


def _sets():
    a = make_hpa_like(n_samples=10, image_size=32, random_state=0)
    b = make_hpa_like(n_samples=6, image_size=32, random_state=1)
    b.ids = np.array([f"v18-{i}" for i in b.ids], dtype=object)
    return a, b


def test_combine_stacks_targets_and_ids_and_views_the_images():
    a, b = _sets()
    both = combine(a, b)
    assert isinstance(both.images, LazyImages) and both.images.shape == (16, 32, 32, 4)
    assert both.images.parts[0] is a.images and both.images.parts[1] is b.images  # no copy
    np.testing.assert_array_equal(both.target, np.concatenate([a.target, b.target]))
    assert list(both.ids) == list(a.ids) + list(b.ids)
    assert both.target_names == a.target_names and both.channels == list(a.channels)
    assert "10 + 6 = 16 samples" in both.DESCR
    X, Y = combine(a, b, return_X_y=True)
    np.testing.assert_array_equal(np.asarray(X), np.concatenate([a.images, b.images]))
    assert Y.shape == (16, 28)
    three = combine(both, Bunch(images=a.images[:2], target=a.target[:2], ids=["x", "y"]))
    assert three.images.shape[0] == 18 and len(three.images.parts) == 3


def test_combine_refuses_what_cannot_be_joined():
    a, b = _sets()
    with pytest.raises(ValueError, match="at least two"):
        combine(a)
    with pytest.raises(ValueError, match="appear more than once.*'synthetic-000000'"):
        combine(a, a)
    small = make_hpa_like(n_samples=2, image_size=48, random_state=3)
    small.ids = np.array(["s0", "s1"], dtype=object)
    with pytest.raises(ValueError, match="differ in image size or channels.*48x48"):
        combine(a, small)
    reordered = Bunch(**b)
    reordered.channels = ["green", "red", "blue", "yellow"]
    with pytest.raises(ValueError, match="other channels, or the same in another order"):
        combine(a, reordered)
    template = Bunch(**b)
    template.target = None
    with pytest.raises(ValueError, match=r"data sets \[1\] have no labels"):
        combine(a, template)
    unlabelled = Bunch(**a)
    unlabelled.target = None
    assert combine(unlabelled, template).target is None
    with pytest.raises(TypeError, match="has no 'images'"):
        combine(a, {"target": b.target})


def test_read_rows_of_a_cache_file_equal_indexing_and_use_pread(tmp_path, monkeypatch):
    import os

    from hpa_sklearn._arrays import read_rows

    X = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 4), dtype=np.uint8)
    np.save(tmp_path / "x.npy", X)
    rows = np.array([1, 4, 5, 11])
    calls = []
    real = os.preadv
    monkeypatch.setattr(os, "preadv", lambda *a: calls.append(a[2]) or real(*a))
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    np.testing.assert_array_equal(read_rows(mapped, rows), X[rows])
    assert len(calls) == len(rows)  # one read a row, at the row's offset in the file
    assert calls[1] - calls[0] == 3 * X[0].nbytes
    # a slice, a copy-on-write map and an in-memory array are indexed as usual
    for other in (mapped[2:], np.load(tmp_path / "x.npy", mmap_mode="c"), X):
        calls.clear()
        np.testing.assert_array_equal(read_rows(other, rows[:3]), np.asarray(other)[rows[:3]])
        assert not calls
    # the batches of a fit read a memmapped cache this way
    view = LazyImages(mapped)
    np.testing.assert_array_equal(np.asarray(view[rows]), X[rows])
