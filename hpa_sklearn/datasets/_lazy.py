"""``LazyImages``: rows of an image array that are read only when the data are needed."""

import mmap
import numbers

import numpy as np


def _reopen(filename, rows):
    return LazyImages(np.load(filename, mmap_mode="r"), rows)


class LazyImages:
    """A read-only view of rows of an image array (e.g. the loader's memmap) that defers reading.

    Indexing rows (``X[train]``, ``X[train, ...]``, ``X[a:b]``) returns another ``LazyImages``, not
    a copy. scikit-learn's cross-validation (``GridSearchCV``, ``cross_val_score``,
    :class:`~hpa_sklearn.MultilabelThresholdTuner`) selects each fold by indexing, so with ``X``
    wrapped the folds stay on disk and :class:`~hpa_sklearn.HPAVGG16Classifier` reads one batch
    at a time. Any other estimator gets the rows as an array through ``np.asarray`` (``__array__``).
    A view of a whole ``.npy`` memmap pickles as its file path and rows, so sending it to another
    process (a Dask worker on a machine that sees the same file) copies no image.

    Parameters
    ----------
    array : array of shape (n_samples, ...)
        The images, typically ``load_hpa(...).images`` (a read-only ``np.memmap``).
    rows : array of int, default=None
        The rows of ``array`` this view holds (all by default).

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.datasets import LazyImages
    >>> X = LazyImages(np.arange(5 * 32 * 32 * 4, dtype=np.uint8).reshape(5, 32, 32, 4))
    >>> fold = X[[4, 1]]
    >>> type(fold).__name__, fold.shape
    ('LazyImages', (2, 32, 32, 4))
    >>> np.asarray(fold).shape, int(np.asarray(fold)[0, 0, 0, 0]) == int(np.asarray(X)[4, 0, 0, 0])
    ((2, 32, 32, 4), True)
    """

    def __init__(self, array, rows=None):
        if isinstance(array, LazyImages):
            base_rows = array.rows
            array = array.array
            rows = base_rows if rows is None else base_rows[np.asarray(rows)]
        self.array = array
        self.rows = np.arange(len(array)) if rows is None else np.asarray(rows, dtype=np.intp)

    @property
    def shape(self):
        return (len(self.rows), *self.array.shape[1:])

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                return np.asarray(self)[key]
        if isinstance(key, numbers.Integral):
            return self.array[self.rows[key]]
        return LazyImages(self.array, self.rows[key])

    def __array__(self, dtype=None, copy=None):
        rows = self.rows
        if len(rows) and np.all(np.diff(rows) == 1):
            out = self.array[rows[0] : rows[-1] + 1]  # a contiguous block: one slice
        else:
            order = np.argsort(rows, kind="stable")  # read in file order, then restore
            out = np.empty((len(rows), *self.array.shape[1:]), dtype=self.array.dtype)
            out[order] = self.array[rows[order]]
        out = np.asarray(out)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __reduce__(self):
        # a whole memory-mapped file (the loader's cache) travels as its path: pickling the view
        # for another process (a Dask worker, say) copies no image, as long as it sees the file
        array = self.array
        if isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap) and array.filename:
            return (_reopen, (array.filename, self.rows))
        return (LazyImages, (np.asarray(self),))  # in memory: just the rows of this view

    def __repr__(self):
        return f"LazyImages(shape={self.shape}, dtype={self.dtype})"
