"""Kaggle submission files: ``Id,Predicted`` with space-separated class ids, one row per test id."""

import os
from pathlib import Path

import numpy as np

from .._io.atomic import atomic_write_text
from .._constants import N_CLASSES
from ._csv import check_unique, csv_text, parse_label_column, read_csv
from ._kaggle import check_id, check_ids, read_label_csv
from ._labels import indicator_to_labels
from ..exceptions import InputError


def write_submission(path, ids, Y_pred, *, template=None):
    """Write a Kaggle submission CSV (``Id,Predicted``).

    Parameters
    ----------
    path : str or Path
        The CSV to write (written to a temporary name and renamed, so a crash never leaves half a file).
    ids : sequence of str
        The id of each row of ``Y_pred``.
    Y_pred : 0/1 array of shape (n, 28)
        Predicted labels.
    template : str, Path or sequence of str, default=None
        The competition's ``sample_submission.csv`` (or its ids). When given, the file has exactly
        the template's ids in the template's order; an id of the template without a prediction is
        an error (extra predictions are an error too).

    Returns
    -------
    path : Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from hpa_sklearn.datasets import read_submission, write_submission
    >>> out = os.path.join(tempfile.mkdtemp(), "submission.csv")
    >>> Y = np.zeros((2, 28), dtype=np.uint8); Y[0, [0, 25]] = 1; Y[1, 16] = 1
    >>> _ = write_submission(out, ["b", "a"], Y, template=["a", "b"])
    >>> print(open(out).read())
    Id,Predicted
    a,16
    b,0 25
    <BLANKLINE>
    >>> ids, Y_back = read_submission(out)
    >>> list(ids), Y_back[1, [0, 25]].tolist()
    (['a', 'b'], [1, 1])
    """
    ids = np.asarray([str(i) for i in ids], dtype=object)
    Y_pred = np.asarray(Y_pred)
    if Y_pred.ndim != 2 or Y_pred.shape[0] != len(ids) or Y_pred.shape[1] != N_CLASSES:
        raise InputError(
            f"Y_pred must have shape ({len(ids)}, {N_CLASSES}) to match the {len(ids)} ids; got "
            f"{Y_pred.shape}."
        )
    if not np.isin(Y_pred, (0, 1)).all():
        raise InputError("Y_pred must be a 0/1 label matrix; apply the thresholds first (predict).")
    for i, sample_id in enumerate(ids):
        check_id(sample_id, f"ids[{i}]")
    _check_unique_sequence(ids, "ids")
    if template is not None:
        if isinstance(template, (str, os.PathLike)):
            order, _ = read_label_csv(template)
        else:
            order = np.asarray([str(i) for i in template], dtype=object)
            _check_unique_sequence(order, "the template")
        position = {sample_id: i for i, sample_id in enumerate(ids)}
        lacking = [i for i in order if i not in position]
        if lacking:
            raise InputError(
                f"{len(lacking)} id(s) of the template have no prediction, e.g. {lacking[:3]}; "
                "predict every test image."
            )
        if len(order) != len(ids):
            extra = sorted(set(ids) - set(order))
            raise InputError(
                f"{len(extra)} predicted id(s) are not in the template, e.g. {extra[:3]}."
            )
        rows = np.array([position[i] for i in order], dtype=np.intp)
        ids, Y_pred = ids[rows], Y_pred[rows]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, csv_text(["Id", "Predicted"], zip(ids, indicator_to_labels(Y_pred))))
    return path


def _check_unique_sequence(ids, what):
    seen = {}
    for i, sample_id in enumerate(ids):
        if sample_id in seen:
            raise InputError(
                f"{what} holds Id {sample_id!r} twice (at positions {seen[sample_id]} and {i}); "
                "every Id must appear once."
            )
        seen[sample_id] = i


def read_submission(path):
    """Read a submission CSV written by :func:`write_submission` (or any Kaggle HPA submission).

    Returns
    -------
    ids : object array of str
    Y : uint8 array of shape (n, 28)
        An empty ``Predicted`` cell gives a row of zeros.
    """
    path = Path(path)
    table = read_csv(path, expected="'Id,Predicted'")
    if table.header != ["Id", "Predicted"]:
        raise InputError(f"{path}: expected columns ['Id', 'Predicted']; got {table.header}.")
    ids = table.column("Id")
    check_ids(ids, table)
    check_unique(ids, table)
    Y = parse_label_column(table, "Predicted", allow_empty=True)
    return np.array(ids, dtype=object), Y
