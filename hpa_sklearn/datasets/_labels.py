"""Label strings of the Kaggle files ("16 0") and the 0/1 indicator matrices the estimators take."""

import numpy as np

from .._constants import N_CLASSES
from ..exceptions import InputError


def parse_target(value, *, n_classes=N_CLASSES, where="Target"):
    """Parse one space-separated ``Target`` string (``"16 0"``) into a sorted list of class ids.

    Raises ``ValueError`` naming ``where`` (e.g. the file and line) for anything that is not a
    non-empty list of integers in ``0 .. n_classes - 1``.
    """
    text = "" if value is None else str(value).strip()
    if not text or text.lower() == "nan":
        raise InputError(f"{where}: empty Target; every sample needs at least one class id.")
    ids = []
    for token in text.split():
        try:
            class_id = int(token)
        except ValueError:
            raise InputError(
                f"{where}: malformed Target {text!r}: {token!r} is not an integer class id "
                "(expected space-separated ids such as '16 0')."
            ) from None
        if not 0 <= class_id < n_classes:
            raise InputError(
                f"{where}: class id {class_id} in Target {text!r} is outside 0..{n_classes - 1}."
            )
        ids.append(class_id)
    return sorted(set(ids))


def labels_to_indicator(labels, n_classes=N_CLASSES):
    """Turn a sequence of class-id lists (or ``"16 0"`` strings) into a uint8 matrix ``(n, n_classes)``.

    Examples
    --------
    >>> from hpa_sklearn.datasets import labels_to_indicator
    >>> labels_to_indicator([[16, 0], "7 1"], n_classes=20)[:, [0, 1, 7, 16]]
    array([[1, 0, 0, 1],
           [0, 1, 1, 0]], dtype=uint8)
    """
    Y = np.zeros((len(labels), n_classes), dtype=np.uint8)
    for row, item in enumerate(labels):
        if isinstance(item, str):
            item = parse_target(item, n_classes=n_classes, where=f"labels[{row}]")
        for class_id in item:
            class_id = int(class_id)
            if not 0 <= class_id < n_classes:
                raise InputError(
                    f"labels[{row}]: class id {class_id} is outside 0..{n_classes - 1}."
                )
            Y[row, class_id] = 1
    return Y


def indicator_to_labels(Y):
    """Turn a 0/1 matrix into Kaggle ``Predicted`` strings (class ids separated by spaces).

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.datasets import indicator_to_labels
    >>> indicator_to_labels(np.array([[1, 0, 1], [0, 0, 0]]))
    ['0 2', '']
    """
    Y = np.asarray(Y)
    return [" ".join(str(j) for j in np.flatnonzero(row)) for row in Y]
