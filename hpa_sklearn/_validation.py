"""Input checks shared by the estimators, the transformers and the metrics.

Every check raises an error that names the argument, what was received and what to do, and never
copies an image array (a ``np.memmap`` stays a memmap).
"""

import numbers

import numpy as np

from ._constants import MIN_IMAGE_SIZE
from .exceptions import InputError

_MAX_CHANNELS = 4


def check_image_array(X, *, name="X", min_size=None, n_channels=None):
    """Check that ``X`` is a 4-D image batch ``(n, height, width, channels)`` and return it as an array.

    uint8 and floating arrays pass through without a copy (memmaps included); other integer or bool
    dtypes are refused, since their value range is ambiguous, and so are NaN or infinite float
    pixels (counted, with the first sample that holds one).
    """
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        X = np.asarray(X)
    if X.ndim != 4:
        raise InputError(
            f"{name} must be a 4-D image array of shape (n_samples, height, width, channels); "
            f"got an array of shape {tuple(X.shape)}. A single image needs a leading axis: X[None]."
        )
    n, height, width, channels = X.shape
    if n == 0:
        raise InputError(f"{name} has no samples (shape {tuple(X.shape)}); pass at least one image.")
    if not 1 <= channels <= _MAX_CHANNELS:
        raise InputError(
            f"{name} must have 1 to {_MAX_CHANNELS} channels on its last axis (red, green, blue, "
            f"yellow); got {channels} (shape {tuple(X.shape)}). Images must be channels-last."
        )
    if n_channels is not None and channels != n_channels:
        raise InputError(
            f"{name} has {channels} channels but {n_channels} were expected (shape {tuple(X.shape)})."
        )
    if X.dtype != np.uint8 and not np.issubdtype(X.dtype, np.floating):
        raise InputError(
            f"{name} must be uint8 (0..255) or floating point (0..1); got dtype {X.dtype}. "
            "Convert with X.astype(np.uint8) or X.astype(np.float32) / 255."
        )
    if np.issubdtype(X.dtype, np.floating):
        _check_finite(X, name)
    if min_size is None:
        min_size = MIN_IMAGE_SIZE
    if min(height, width) < min_size:
        raise InputError(
            f"{name} images are {height}x{width} px, below the {min_size} px the network needs; "
            f"load or generate them at image_size >= {min_size}."
        )
    return X


def _check_finite(X, name, chunk_bytes=1 << 26):
    """Refuse NaN or infinite pixels, reading ``X`` in chunks of rows (a memmap is not copied):
    one of them makes the per-channel statistics NaN and the network learns nothing."""
    row_bytes = max(1, int(np.prod(X.shape[1:])) * X.dtype.itemsize)
    step = max(1, chunk_bytes // row_bytes)
    count, first = 0, None
    for start in range(0, X.shape[0], step):
        bad = ~np.isfinite(np.asarray(X[start : start + step]))
        if bad.any():
            count += int(bad.sum())
            if first is None:
                first = start + int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
    if count:
        raise InputError(
            f"{name} holds {count} NaN or infinite pixel value(s), the first in sample {first}; "
            "replace them (e.g. np.nan_to_num) or drop those samples. Float pixels must be finite "
            "values in 0..1."
        )


def check_label_matrix(Y, *, name="Y", n_samples=None):
    """Check that ``Y`` is a 0/1 indicator matrix ``(n_samples, n_labels)``; return it as uint8."""
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise InputError(
            f"{name} must be a 0/1 indicator matrix of shape (n_samples, n_labels); got shape "
            f"{Y.shape}. For class-id lists use hpa_sklearn.datasets.labels_to_indicator."
        )
    if Y.shape[1] == 0:
        raise InputError(f"{name} has no label columns (shape {Y.shape}).")
    if n_samples is not None and Y.shape[0] != n_samples:
        raise InputError(
            f"{name} has {Y.shape[0]} rows but X has {n_samples} samples; they must match."
        )
    if Y.dtype == bool:
        return Y.astype(np.uint8)
    if not np.issubdtype(Y.dtype, np.number):
        raise InputError(f"{name} must be numeric 0/1; got dtype {Y.dtype}.")
    bad = (Y != 0) & (Y != 1)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(
            f"{name} must contain only 0 and 1; found {Y[row, col]!r} at row {row}, column {col}."
        )
    return Y.astype(np.uint8)


def check_thresholds(threshold, n_labels, *, name="threshold"):
    """Return ``threshold`` (a scalar or one value per label) as a float array of shape (n_labels,)."""
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        thresholds = np.full(n_labels, float(threshold))
    else:
        thresholds = np.asarray(threshold, dtype=float)
        if thresholds.shape != (n_labels,):
            raise InputError(
                f"{name} must be a number or one value per label ({n_labels}); got shape "
                f"{thresholds.shape}."
            )
    if not np.all(np.isfinite(thresholds)):
        raise InputError(f"{name} must be finite; got {thresholds}.")
    return thresholds


def check_sample_weight(sample_weight, n_samples):
    """None, or ``sample_weight`` as float32 of shape (n_samples,), finite and >= 0."""
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float32)
    if sample_weight.shape != (n_samples,):
        raise InputError(f"sample_weight must have shape ({n_samples},); got "
                         f"{sample_weight.shape}.")
    if not np.all(np.isfinite(sample_weight)) or (sample_weight < 0).any():
        raise InputError("sample_weight must be finite and >= 0.")
    return sample_weight


def check_row_mask(mask, n_samples, *, name="train_only"):
    """None, or ``mask`` as a boolean array of one value per sample."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != (n_samples,) or mask.dtype != bool:
        raise InputError(f"{name} must be one boolean per sample ({n_samples}); got {mask.dtype} "
                         f"of shape {mask.shape}.")
    return mask
