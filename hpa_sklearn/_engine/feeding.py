"""Batches fed to Keras straight from the (uint8, possibly memory-mapped) image array.

Keras' array input path converts the whole array into one backend tensor before slicing batches
(a full copy; as float32 four times the uint8 size). Feeding a ``PyDataset`` instead keeps the host
copy at one batch: images stay uint8 until the network casts them on the device.
"""

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np

from .._arrays import read_rows
from .tta import view
from ..exceptions import InputError


class ImageBatches(keras.utils.PyDataset):
    """Batches ``X[indices]`` (and ``Y``, ``sample_weight``) of ``batch_size`` images.

    With ``shuffle=True`` the order of the samples is redrawn after every epoch from ``seed``.
    Training uses :class:`TrainingBatches`, whose order does not depend on when Keras signals the
    end of an epoch. Rows inside a batch are read in file order (sorted indices), which keeps
    reads from a memmap sequential.

    ``transform`` ``(quarter turns, mirror)`` gives a test-time augmentation view of every batch.

    ``multiple`` > 1 (data-parallel training on that many devices) makes every batch divisible by
    it: in training the last, partial batch drops its remainder (other samples each epoch, since
    the order is redrawn). In prediction (no ``Y``) the last batch of a multi-batch prediction is
    padded to ``batch_size`` by repeating its last image (one traced shape per network), and the
    caller keeps the first ``n`` outputs.
    """

    def __init__(self, X, Y=None, sample_weight=None, *, indices=None, batch_size=64,
                 shuffle=False, seed=None, workers=1, multiple=1, transform=(0, False)):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=8)
        self.transform = tuple(transform)
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.indices = None if indices is None else np.asarray(indices, dtype=np.intp)
        self.n = len(X) if indices is None else len(self.indices)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.multiple = int(multiple)
        if self.batch_size % self.multiple:
            raise InputError(
                f"batch_size={self.batch_size} must be a multiple of the {self.multiple} devices "
                "the batches are split across."
            )
        self._rng = np.random.default_rng(seed)
        self._order = self._draw_order()

    def _draw_order(self):
        base = np.arange(len(self.X)) if self.indices is None else self.indices
        if not self.shuffle:
            return base
        order = self._rng.permutation(base)
        return order[: len(order) - len(order) % self.batch_size % self.multiple]

    def __len__(self):
        return math.ceil(len(self._order) / self.batch_size)

    def _images(self, rows):
        # a LazyImages view reads its rows here; a memmapped cache is read row by row (pread)
        batch = read_rows(self.X, rows) if isinstance(rows, np.ndarray) else np.asarray(
            self.X[rows])
        if batch.dtype != np.uint8 and batch.dtype != np.float32:
            batch = batch.astype(np.float32)
        return np.ascontiguousarray(batch)

    def __getitem__(self, i):
        rows = self._order[i * self.batch_size : (i + 1) * self.batch_size]
        if self.indices is not None or self.shuffle:
            rows = np.sort(rows)
        else:
            rows = slice(rows[0], rows[-1] + 1)  # contiguous: a plain slice, no fancy indexing
        x = self._images(rows)
        if self.transform != (0, False):
            x = view(x, self.transform)
        if self.Y is None:
            # prediction: every batch of a multi-batch prediction has the full size (the last one
            # padded with copies of its last image; the caller keeps the first n outputs), so
            # that the predict step is traced once per network, not again for the remainder
            target = self.batch_size if len(self) > 1 else len(x) + (-len(x) % self.multiple)
            short = target - len(x)
            if short:
                x = np.concatenate([x, np.repeat(x[-1:], short, axis=0)])
            return (x,)
        y = np.asarray(self.Y[rows], dtype=np.float32)
        if self.sample_weight is None:
            return x, y
        return x, y, np.asarray(self.sample_weight[rows], dtype=np.float32)

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._draw_order()


class TrainingBatches(ImageBatches):
    """The training batches of epochs ``start_epoch`` .. ``end_epoch - 1`` as one sequence.

    Batch ``b`` of epoch ``e`` holds the rows ``order(e)[b * batch_size : (b + 1) *
    batch_size]`` (read in file order), where ``order(e)`` is a permutation of ``indices`` drawn
    from ``(seed, e)``: a pure function of its position in the sequence. The last batch of an
    epoch is completed with the first rows of the same order, so that every batch has
    ``batch_size`` rows: the training step is traced once per network (a partial last batch would
    trace it again, for every network of a cross-validation), and a data-parallel batch always
    splits evenly across the devices. Fit it with
    ``steps_per_epoch=batches_per_epoch`` (or the remaining batches of a resumed epoch,
    ``start_batch``) so that Keras reads the sequence once from start to end; a resumed fit then
    reads exactly the batches an uninterrupted one would, whatever Keras prefetches and whenever
    it signals the end of an epoch.

    Keras' own worker threads restart their batch index at every epoch, so they are not used:
    ``workers - 1`` threads of this class read the next batches ahead instead.
    """

    def __init__(self, X, Y, sample_weight=None, *, indices, batch_size, seed, start_epoch=0,
                 start_batch=0, end_epoch, workers=1, multiple=1):
        super().__init__(X, Y, sample_weight, indices=indices, batch_size=batch_size,
                         shuffle=False, workers=1, multiple=multiple)
        self.seed = int(seed)
        self.read_ahead = max(0, int(workers) - 1)
        self.batches_per_epoch = self.count_batches(len(self.indices), self.batch_size)
        self.start = start_epoch * self.batches_per_epoch + start_batch
        self.stop = end_epoch * self.batches_per_epoch
        self._epoch_order = (None, None)
        self._pool = None
        self._pending = {}
        self._lock = threading.Lock()

    @staticmethod
    def count_batches(n_rows, batch_size, multiple=1):
        """Batches in an epoch of ``n_rows`` (the last one completed to ``batch_size``)."""
        return math.ceil(n_rows / batch_size)

    def order(self, epoch):
        """The row order of ``epoch``."""
        cached = self._epoch_order
        if cached[0] != epoch:
            permutation = np.random.default_rng([self.seed, epoch]).permutation(self.indices)
            cached = self._epoch_order = (epoch, permutation)
        return cached[1]

    def rows(self, epoch, batch):
        """The rows of batch ``batch`` of ``epoch`` (sorted; the last batch completed with the
        first rows of the epoch's order)."""
        order = self.order(epoch)
        rows = order[batch * self.batch_size : (batch + 1) * self.batch_size]
        short = self.batch_size - len(rows)
        if short:
            rows = np.concatenate([rows, np.resize(order, short)])
        return np.sort(rows)

    def __len__(self):
        return max(0, self.stop - self.start)

    def _batch(self, i):
        epoch, batch = divmod(self.start + i, self.batches_per_epoch)
        rows = self.rows(epoch, batch)
        x = self._images(rows)
        y = np.asarray(self.Y[rows], dtype=np.float32)
        if self.sample_weight is None:
            return x, y
        return x, y, np.asarray(self.sample_weight[rows], dtype=np.float32)

    def __getitem__(self, i):
        if not self.read_ahead:
            return self._batch(i)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.read_ahead,
                                                thread_name_prefix="hpa-sklearn-read-ahead")
            future = self._pending.pop(i, None)
            for j in range(i + 1, min(i + 1 + self.read_ahead, len(self))):
                if j not in self._pending:
                    self._pending[j] = self._pool.submit(self._batch, j)
            for j in [j for j in self._pending if j < i]:
                self._pending.pop(j).cancel()
        return future.result() if future is not None else self._batch(i)

    def on_epoch_end(self):
        pass  # the order is a function of the position, not of Keras' epoch signals

    def close(self):
        """Stop the read-ahead threads."""
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
