"""The evaluation report: a run card, a short "how to read this", macro F1 with a bootstrap
confidence interval, per-class scores (at 0.5 and at the tuned thresholds when there are some),
charts named by class, and a gallery of examples, written as an HTML page with its PNGs and a JSON
file that holds the numbers of every figure."""

from pathlib import Path

import numpy as np

from .._constants import CHANNELS
from .._decision import apply_thresholds
from .._io.atomic import atomic_folder, atomic_write_json, atomic_write_text
from .._io.ownership import replaceable, write_marker
from ._gallery import hpa_composite, listed_classes, plot_gallery
from ._html import html_page
from ._numbers import compute_report
from ._plots import (
    plot_f1_vs_threshold,
    plot_label_frequency,
    plot_per_class_f1,
    plot_search,
    plot_training_curves,
)

__all__ = ["compute_report", "hpa_composite", "plot_search", "write_report"]


def _examples(report, Y_true, proba, images, ids, n_examples, max_classes):
    """The examples of the gallery: evenly spread over the images; per image its true and
    predicted classes, probabilities, and the classes shown (the true ones, then the false
    positives, each by probability)."""
    picked = np.unique(np.linspace(0, len(images) - 1, min(n_examples, len(images))).astype(int))
    thresholds = [r["threshold"] for r in report["per_class"]]
    proba = np.asarray(proba)
    Y_pred = apply_thresholds(proba[picked], thresholds)
    true = [np.flatnonzero(np.asarray(Y_true)[i]).tolist() for i in picked]
    predicted = [np.flatnonzero(row).tolist() for row in Y_pred]
    shown = []
    for t, p, i in zip(true, predicted, picked):  # the true classes first, then false positives
        classes = listed_classes(set(t), set(p), proba[i])
        shown.append([int(j) for j in classes[:max_classes]])
    return picked, {"ids": [str(ids[i]) if ids is not None else str(i) for i in picked],
                    "true": true, "predicted": predicted, "shown": shown,
                    "proba": [[round(float(v), 4) for v in proba[i]] for i in picked]}


def write_report(out_dir, Y_true, proba, threshold=0.5, *, images=None, channels=None, ids=None,
                 history=None, train_target=None, class_names=None, n_examples=8, n_boot=1000,
                 random_state=0, title="hpa-sklearn evaluation report", run=None, explain=None,
                 max_classes=4):
    """Write the evaluation report into ``out_dir``: ``index.html``, its PNGs and ``report.json``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write: created, or replaced as a whole when it is a report folder of the
        library (any other non-empty folder is refused); written under a temporary name and
        swapped in.
    Y_true, proba, threshold, history, train_target, class_names, n_boot, random_state
        As in :func:`compute_report`.
    images : array of shape (n_samples, h, w, c), default=None
        The evaluated images; ``n_examples`` of them are shown with true and predicted labels.
    channels : sequence of str, default=None
        Channel names of ``images`` (default: red, green, blue, yellow order truncated).
    ids : sequence of str, default=None
        Sample ids shown over the examples.
    n_examples : int, default=8
        Number of example images.
    title : str
        Title of the page.
    run : dict, default=None
        How the evaluated model was made (a model folder's ``run`` record), shown as the run
        card and kept in ``report.json``.
    explain : callable, default=None
        ``explain(images, classes) -> heatmaps`` of shape ``(n, n_classes, h, w)`` (a fitted
        model's ``explain``): the gallery then shows, beside each example, where the model saw
        each of its true and predicted classes.
    max_classes : int, default=4
        Most classes shown per example.

    Returns
    -------
    report : dict
        What ``report.json`` holds (see :func:`compute_report`), with ``files``: the written files.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from hpa_sklearn.report import write_report
    >>> rng = np.random.default_rng(0)
    >>> Y = (rng.random((60, 28)) < 0.2).astype(int)
    >>> proba = np.clip(Y * 0.4 + rng.random((60, 28)) * 0.5, 0, 1)
    >>> report = write_report(tempfile.mkdtemp() + "/report", Y, proba, threshold=0.3, n_boot=50)
    >>> report["summary"]["settings"]
    ['0.5', 'tuned']
    """
    report = compute_report(Y_true, proba, threshold, class_names=class_names, history=history,
                            train_target=train_target, n_boot=n_boot, random_state=random_state)
    if run is not None:
        report["run"] = run
    figures = report["figures"]
    names = [r["name"] for r in report["per_class"]]
    with atomic_folder(Path(out_dir), replaceable=replaceable("report")) as tmp:
        files = [("per_class_f1.png", "Per-class F1")]
        plot_per_class_f1(figures["per_class_f1"], tmp / "per_class_f1.png")
        if plot_f1_vs_threshold(figures["f1_vs_threshold"], tmp / "f1_vs_threshold.png"):
            files.append(("f1_vs_threshold.png", "F1 against the threshold"))
        plot_label_frequency(figures["label_frequency"], tmp / "label_frequency.png")
        files.append(("label_frequency.png", "Label frequency"))
        if "training_curves" in figures:
            plot_training_curves(figures["training_curves"], tmp / "training_curves.png")
            files.append(("training_curves.png", "Training curves"))
        if images is not None and n_examples > 0:
            picked, examples = _examples(report, Y_true, proba, images, ids, n_examples,
                                         max_classes)
            figures["examples"] = examples
            shown_images = np.asarray(images[picked])
            heatmaps = None
            if explain is not None:
                heatmaps = _explained(explain, shown_images, examples["shown"])
            plot_gallery(shown_images, tuple(channels or CHANNELS[: shown_images.shape[-1]]),
                         examples, names, tmp / "examples.png", heatmaps=heatmaps,
                         max_classes=max_classes)
            files.append(("examples.png", "Examples" + (" and where the model saw each class"
                                                        if heatmaps is not None else "")))
        report["files"] = ["index.html", "report.json", *[name for name, _ in files]]
        atomic_write_json(tmp / "report.json", report, indent=1)
        atomic_write_text(tmp / "index.html", html_page(report, files, title))
        write_marker(tmp, "report")
    return report


def _explained(explain, images, shown):
    """Heatmaps ``(n, max shown, h, w)`` of each image's shown classes (zeros where it shows
    fewer)."""
    width = max((len(s) for s in shown), default=0)
    out = np.zeros((len(images), width, *images.shape[1:3]), dtype=np.float32)
    for i, classes in enumerate(shown):
        if classes:
            out[i, : len(classes)] = np.asarray(explain(images[i : i + 1], classes))[0]
    return out
