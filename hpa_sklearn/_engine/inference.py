"""Prediction: probabilities of a trained network, batch by batch from the (memory-mapped) array,
averaged over the test-time augmentation views."""

import numpy as np

from .feeding import ImageBatches
from .tta import tta_transforms
from .trainer import device_scope, first_traces_quiet, n_replicas


def predict_proba(config, model, X, *, n_outputs, tta=None):
    """Probabilities ``(n_samples, n_outputs)`` (float32) of ``model`` for ``X``: the mean over the
    views of ``tta``. ``config`` gives ``batch_size``, ``workers``, ``distribution``, ``verbose``."""
    total = np.zeros((len(X), n_outputs), dtype=np.float64)
    views = tta_transforms(tta, X.shape[1:3])
    replicas = n_replicas(config, model)
    for view in views:
        data = ImageBatches(X, batch_size=config.batch_size, workers=config.workers,
                            multiple=replicas, transform=view)
        with device_scope(config), first_traces_quiet():
            proba = model.predict(data, verbose=config.verbose if len(data) > 1 else 0)
        # data-parallel prediction pads the last batch: keep one row per image
        total += np.asarray(proba[: len(X)], dtype=np.float64).reshape(total.shape)
    return (total / len(views)).astype(np.float32)
