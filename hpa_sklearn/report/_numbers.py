"""Every number of the evaluation report (:func:`compute_report`), as a JSON-serializable dict."""

import numpy as np

from .._decision import apply_thresholds
from .._validation import check_label_matrix, check_thresholds
from ..exceptions import InputError
from ..metrics import bootstrap_macro_f1, class_names_of, f1_threshold_curves, per_class_scores

_CURVE_THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)
_EPS = 1e-7


def _micro_f1(Y_true, Y_pred):
    tp = float((Y_true & Y_pred).sum())
    denominator = float(Y_true.sum() + Y_pred.sum())
    return 2 * tp / denominator if denominator else 0.0


def compute_report(Y_true, proba, threshold=0.5, *, class_names=None, history=None,
                   train_target=None, n_boot=1000, random_state=0):
    """Every number of the evaluation report, as a JSON-serializable dict.

    Parameters
    ----------
    Y_true : array of shape (n_samples, n_labels)
        True 0/1 labels.
    proba : array of shape (n_samples, n_labels)
        Predicted probabilities.
    threshold : float or array of shape (n_labels,), default=0.5
        The model's thresholds. When they differ from 0.5 (tuned), the report compares them with
        the untuned 0.5; otherwise it has one setting, "0.5".
    class_names : sequence of str, default=None
        The 28 competition names by default.
    history : dict of lists, default=None
        Training curves (``loss``, ``f1``, and ``val_loss``, ``val_f1`` with a validation part).
    train_target : array of shape (n_train, n_labels), default=None
        Training labels, shown beside the evaluated labels in the label-frequency figure.
    n_boot : int, default=1000
        Bootstrap replicates of the macro-F1 confidence interval.
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    report : dict
        ``summary`` (per setting: macro F1 with its 95 % interval, micro F1, labels per image;
        the binary cross-entropy; how many classes have positives), ``per_class`` (a list of
        rows) and ``figures`` (the data of each plot).

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.report import compute_report
    >>> Y = np.eye(28, dtype=int)[[0, 0, 2, 5]]
    >>> proba = np.where(Y == 1, 0.9, 0.1)
    >>> report = compute_report(Y, proba, n_boot=20)
    >>> report["summary"]["settings"], report["summary"]["classes_with_positives"]
    (['0.5'], 3)
    >>> round(report["summary"]["0.5"]["macro_f1"], 4)  # 3 classes right, 25 with none: 3/28
    0.1071
    """
    Y_true = check_label_matrix(Y_true, name="Y_true")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != Y_true.shape:
        raise InputError(f"proba has shape {proba.shape} but Y_true has {Y_true.shape}.")
    n_labels = Y_true.shape[1]
    names = list(class_names) if class_names is not None else class_names_of(n_labels)
    thresholds = check_thresholds(threshold, n_labels)
    tuned = not np.allclose(thresholds, 0.5)
    settings = {"0.5": np.full(n_labels, 0.5)}
    if tuned:
        settings["tuned"] = thresholds
    support = Y_true.sum(axis=0).astype(int)
    summary = {"n_samples": int(Y_true.shape[0]), "n_labels": n_labels,
               "settings": list(settings), "classes_with_positives": int((support > 0).sum())}
    tables = {}
    for key, values in settings.items():
        Y_pred = apply_thresholds(proba, values)
        boot = bootstrap_macro_f1(Y_true, Y_pred, n_boot=n_boot, random_state=random_state)
        summary[key] = {
            "macro_f1": float(boot.score),
            "macro_f1_ci95": [float(boot.low), float(boot.high)],
            "micro_f1": _micro_f1(Y_true, Y_pred),
            "labels_per_image": float(Y_pred.sum(axis=1).mean()),
        }
        tables[key] = per_class_scores(Y_true, Y_pred, class_names=names)
    clipped = np.clip(proba, _EPS, 1 - _EPS)
    summary["bce_loss"] = float(-np.mean(Y_true * np.log(clipped)
                                         + (1 - Y_true) * np.log(1 - clipped)))
    summary["true_labels_per_image"] = float(Y_true.sum(axis=1).mean())

    final = tables["tuned" if tuned else "0.5"]
    per_class = []
    for j in range(n_labels):
        row, half = final.iloc[j], tables["0.5"].iloc[j]
        per_class.append({
            "class_id": j, "name": names[j], "support": int(row["support"]),
            "threshold": float(thresholds[j]), "precision": float(row["precision"]),
            "recall": float(row["recall"]), "f1": float(row["f1"]),
            "f1_at_0.5": float(half["f1"]),
        })

    candidates, curves = f1_threshold_curves(Y_true, proba, thresholds=_CURVE_THRESHOLDS)
    order = sorted(range(n_labels), key=lambda j: (-per_class[j]["f1"], j))
    figures = {
        "per_class_f1": {
            "class_id": order,
            "name": [names[j] for j in order],
            "f1": [per_class[j]["f1"] for j in order],
            "f1_at_0.5": [per_class[j]["f1_at_0.5"] for j in order],
            "support": [per_class[j]["support"] for j in order],
            "tuned": tuned,
        },
        "f1_vs_threshold": {
            "thresholds": candidates[:, 0].tolist(),
            "class_id": [int(j) for j in np.flatnonzero(support > 0)],
            "name": [names[j] for j in np.flatnonzero(support > 0)],
            "f1": [curves[:, j].tolist() for j in np.flatnonzero(support > 0)],
            "chosen": [float(thresholds[j]) for j in np.flatnonzero(support > 0)],
            "tuned": tuned,
        },
        "label_frequency": {"name": names, "evaluated": support.tolist()},
    }
    if train_target is not None:
        train_target = check_label_matrix(train_target, name="train_target")
        figures["label_frequency"]["training"] = train_target.sum(axis=0).astype(int).tolist()
    if history:
        figures["training_curves"] = {k: [float(v) for v in vals] for k, vals in history.items()}
    return {"summary": summary, "per_class": per_class, "figures": figures}
