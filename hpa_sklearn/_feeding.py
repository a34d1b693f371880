"""Batches fed to Keras straight from the (uint8, possibly memory-mapped) image array.

Keras' array input path converts the whole array into one backend tensor before slicing batches
(a full copy; as float32 four times the uint8 size). Feeding a ``PyDataset`` instead keeps the host
copy at one batch: images stay uint8 until the network casts them on the device.
"""

import math

import keras
import numpy as np


class ImageBatches(keras.utils.PyDataset):
    """Batches ``X[indices]`` (and ``Y``, ``sample_weight``) of ``batch_size`` images.

    With ``shuffle=True`` the order of the samples is redrawn after every epoch from ``seed``, so the
    same seed gives the same batches. Rows inside a batch are read in file order (sorted indices),
    which keeps reads from a memmap sequential.

    ``multiple`` > 1 (data-parallel training on that many devices) makes every batch divisible by
    it: in training the last, partial batch drops its remainder (other samples each epoch, since
    the order is redrawn); in prediction it is padded by repeating its last image, and the caller
    keeps the first ``n`` outputs.
    """

    def __init__(self, X, Y=None, sample_weight=None, *, indices=None, batch_size=64,
                 shuffle=False, seed=None, workers=1, multiple=1):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=8)
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.indices = None if indices is None else np.asarray(indices, dtype=np.intp)
        self.n = len(X) if indices is None else len(self.indices)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.multiple = int(multiple)
        if self.batch_size % self.multiple:
            raise ValueError(
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
        batch = np.asarray(self.X[rows])  # a LazyImages view reads its rows here
        if batch.dtype != np.uint8 and batch.dtype != np.float32:
            batch = batch.astype(np.float32)
        return np.ascontiguousarray(batch)

    def __getitem__(self, i):
        rows = self._order[i * self.batch_size : (i + 1) * self.batch_size]
        if self.shuffle:
            rows = np.sort(rows)
        elif self.indices is None:
            rows = slice(rows[0], rows[-1] + 1)  # contiguous: a plain slice, no fancy indexing
        x = self._images(rows)
        if self.Y is None:
            short = -len(x) % self.multiple
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
