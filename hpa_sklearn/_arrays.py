"""``LazyImages``: rows of an image array, or of several arrays end to end, that are read only when
the data are needed."""

import mmap
import numbers
import os

import numpy as np
from .exceptions import InputError


def _reopen(filename, rows):
    return LazyImages(np.load(filename, mmap_mode="r"), rows)


def _reopen_parts(filenames, rows):
    return LazyImages([np.load(filename, mmap_mode="r") for filename in filenames], rows)


def _whole_file(array):
    """The file name of a memmap that maps a whole ``.npy`` file (``np.load(mmap_mode=...)``),
    else None (an in-memory array, or a slice of a memmap)."""
    if isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap) and array.filename:
        return array.filename
    return None


def read_rows(array, rows):
    """``array[rows]`` for sorted integer ``rows``, read with one ``pread`` a row where ``array``
    maps a whole file (``np.load(mmap_mode="r")``, the loader's cache).

    Gathering scattered rows through the mapping faults every row in, and the kernel reads
    around each fault (the device's read-ahead, 8 MiB on some virtual disks): measured here,
    random batches of 1 MiB rows read about twice the bytes they needed from disk. ``pread``
    reads exactly the rows. Other arrays, and platforms without ``os.preadv``, are indexed as
    usual.
    """
    rows = np.asarray(rows)
    if (
        not hasattr(os, "preadv")
        or _whole_file(array) is None
        or array.mode not in ("r", "r+", "w+")  # copy-on-write ("c"): the file is not the data
        or not array.flags.c_contiguous
        or len(rows) < 2
    ):
        return np.asarray(array[rows])
    out = np.empty((len(rows), *array.shape[1:]), dtype=array.dtype)
    row_bytes = out[0].nbytes
    fd = os.open(array.filename, os.O_RDONLY)
    try:
        for k, row in enumerate(rows):
            view = memoryview(out[k]).cast("B")
            done = os.preadv(fd, [view], array.offset + int(row) * row_bytes)
            if done != row_bytes:  # a short read (a truncated file): let numpy say what is wrong
                return np.asarray(array[rows])
    finally:
        os.close(fd)
    return out


def _flatten(arrays):
    """``(parts, rows)`` of a list of arrays and ``LazyImages`` views: the arrays underneath, in
    order, and the rows of their concatenation that the list holds."""
    parts, rows, start = [], [], 0
    for item in arrays:
        if isinstance(item, LazyImages):
            rows.append(item.rows + start)
            parts.extend(item.parts)
            start += int(item._starts[-1])
        else:
            if not hasattr(item, "shape") or not hasattr(item, "dtype"):
                item = np.asarray(item)
            rows.append(np.arange(len(item)) + start)
            parts.append(item)
            start += len(item)
    return parts, np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)


class LazyImages:
    """A read-only view of rows of an image array (e.g. the loader's memmap), or of several arrays
    end to end, that defers reading.

    Indexing rows (``X[train]``, ``X[train, ...]``, ``X[a:b]``) returns another ``LazyImages``, not
    a copy. scikit-learn's cross-validation (``GridSearchCV``, ``cross_val_score``,
    :class:`~hpa_sklearn.MultilabelThresholdTuner`) selects each fold by indexing, so with ``X``
    wrapped the folds stay on disk and :class:`~hpa_sklearn.HPAVGG16Classifier` reads one batch
    at a time. Any other estimator gets the rows as an array through ``np.asarray`` (``__array__``).

    Given a list of arrays (all with the same image shape and dtype), the view is their
    concatenation, which is never built: a read of some rows reads them from each array in turn,
    in file order. That is how :func:`combine` joins data sets (the Kaggle set and HPAv18, say)
    without copying their images. A view of whole ``.npy`` memmaps pickles as their file paths and
    rows, so sending it to another process (a Dask worker on a machine that sees the same files)
    copies no image.

    Parameters
    ----------
    array : array of shape (n_samples, ...), or a list of them
        The images, typically ``load_hpa(...).images`` (a read-only ``np.memmap``); a list (or
        tuple) of arrays or ``LazyImages`` stands for their concatenation along the first axis.
    rows : array of int, default=None
        The rows of ``array`` (of the concatenation, for a list) this view holds (all by default).

    Attributes
    ----------
    parts : tuple of arrays
        The arrays underneath, in order (one for a view of one array).
    array : array or tuple of arrays
        The one array underneath, or ``parts`` when there are several.
    rows : ndarray of int
        The rows of the concatenation of ``parts`` that the view holds, in its order.

    See Also
    --------
    combine : Join data sets (Bunches) with a ``LazyImages`` of their images.

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

    Two arrays end to end, as one:

    >>> a = np.zeros((3, 32, 32, 4), dtype=np.uint8)
    >>> b = np.ones((2, 32, 32, 4), dtype=np.uint8)
    >>> both = LazyImages([a, b])
    >>> both.shape, [int(both[i].max()) for i in range(len(both))]
    ((5, 32, 32, 4), [0, 0, 0, 1, 1])
    >>> bool(np.array_equal(np.asarray(both[[4, 0]]), np.concatenate([a, b])[[4, 0]]))
    True
    """

    def __init__(self, array, rows=None):
        if isinstance(array, LazyImages):
            parts, base_rows = list(array.parts), array.rows
        elif isinstance(array, (list, tuple)):
            if not array:
                raise InputError("LazyImages needs at least one array; got an empty list.")
            parts, base_rows = _flatten(array)
        else:
            parts, base_rows = [array], None
        first = parts[0]
        for i, part in enumerate(parts[1:], start=1):
            if tuple(part.shape[1:]) != tuple(first.shape[1:]) or part.dtype != first.dtype:
                raise InputError(
                    f"the arrays of a LazyImages must share their image shape and dtype; array 0 "
                    f"is {first.dtype} {tuple(first.shape)}, array {i} is {part.dtype} "
                    f"{tuple(part.shape)}."
                )
        self.parts = tuple(parts)
        self._starts = np.cumsum([0] + [len(part) for part in parts]).astype(np.intp)
        if base_rows is None:
            base_rows = np.arange(self._starts[-1], dtype=np.intp)
        self.rows = np.asarray(base_rows if rows is None else base_rows[np.asarray(rows)],
                               dtype=np.intp)

    @property
    def array(self):
        return self.parts[0] if len(self.parts) == 1 else self.parts

    @property
    def shape(self):
        return (len(self.rows), *self.parts[0].shape[1:])

    @property
    def dtype(self):
        return self.parts[0].dtype

    @property
    def ndim(self):
        return self.parts[0].ndim

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                return np.asarray(self)[key]
        if isinstance(key, numbers.Integral):
            row = int(self.rows[key])
            part = int(np.searchsorted(self._starts, row, side="right")) - 1
            return self.parts[part][row - self._starts[part]]
        return self._view(self.rows[key])

    def _view(self, rows):
        view = object.__new__(LazyImages)
        view.parts, view._starts = self.parts, self._starts
        view.rows = np.asarray(rows, dtype=np.intp)
        return view

    def _read(self, part, local):
        """Rows ``local`` (sorted) of ``self.parts[part]``: one slice when they are contiguous."""
        array = self.parts[part]
        if len(local) and local[-1] - local[0] == len(local) - 1:
            return array[local[0] : local[-1] + 1]
        return read_rows(array, local)

    def __array__(self, dtype=None, copy=None):
        rows = self.rows
        if len(rows) and np.all(np.diff(rows) == 1):  # a contiguous block
            first, last = rows[0], rows[-1]
            part = int(np.searchsorted(self._starts, first, side="right")) - 1
            if last < self._starts[part + 1]:  # inside one array: one slice of it, no copy
                out = self.parts[part][first - self._starts[part] : last - self._starts[part] + 1]
                out = np.asarray(out)
                return out if dtype is None else out.astype(dtype, copy=False)
        order = np.argsort(rows, kind="stable")  # read in file order, then restore
        ordered = rows[order]
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype if dtype is None else dtype)
        bounds = np.searchsorted(ordered, self._starts)
        for part in range(len(self.parts)):
            lo, hi = bounds[part], bounds[part + 1]
            if lo < hi:
                out[order[lo:hi]] = self._read(part, ordered[lo:hi] - self._starts[part])
        return out

    def __reduce__(self):
        # whole memory-mapped files (the loader's cache) travel as their paths: pickling the view
        # for another process (a Dask worker, say) copies no image, as long as it sees the files
        names = [_whole_file(part) for part in self.parts]
        if all(names):
            if len(names) == 1:
                return (_reopen, (names[0], self.rows))
            return (_reopen_parts, (names, self.rows))
        return (LazyImages, (np.asarray(self),))  # in memory: just the rows of this view

    def __repr__(self):
        joined = f", {len(self.parts)} arrays" if len(self.parts) > 1 else ""
        return f"LazyImages(shape={self.shape}, dtype={self.dtype}{joined})"
