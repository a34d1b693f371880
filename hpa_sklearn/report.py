"""The evaluation report: macro F1 with a bootstrap confidence interval, per-class scores at the
0.5 and the tuned thresholds, and plots, written as an HTML page with its PNGs and a JSON file that
holds the numbers of every figure."""

import html
from pathlib import Path

import numpy as np

from ._io.atomic import atomic_folder, atomic_write_json, atomic_write_text, save_figure
from ._io.ownership import replaceable, write_marker
from ._decision import apply_thresholds
from ._validation import check_label_matrix, check_thresholds
from .metrics import (
    class_names_of,
    bootstrap_macro_f1,
    f1_threshold_curves,
    per_class_scores,
)
from ._constants import HPA_DISPLAY_COLOURS
from .exceptions import InputError

_CURVE_THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)
_EPS = 1e-7


def hpa_composite(images, channels):
    """Render images ``(n, h, w, c)`` as RGB floats in [0, 1], each stain in its HPA display colour
    (protein green, nucleus blue, microtubules red, ER yellow)."""
    colours = np.array([HPA_DISPLAY_COLOURS[c] for c in channels], dtype=np.float32)
    rgb = np.asarray(images, dtype=np.float32) @ colours
    if np.asarray(images).dtype == np.uint8:
        rgb /= 255.0
    return np.clip(rgb, 0.0, 1.0)


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
        The tuned thresholds, compared with the untuned 0.5.
    class_names : sequence of str, default=None
        The 28 competition names by default.
    history : dict of lists, default=None
        Training curves (``loss``, ``f1``, ``val_loss``, ``val_f1`` per epoch).
    train_target : array of shape (n_train, n_labels), default=None
        Training labels, shown beside the evaluated labels in the label-frequency figure.
    n_boot : int, default=1000
        Bootstrap replicates of the macro-F1 confidence interval.
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    report : dict
        ``summary``, ``per_class`` (a list of rows) and ``figures`` (the data of each plot).
    """
    Y_true = check_label_matrix(Y_true, name="Y_true")
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != Y_true.shape:
        raise InputError(f"proba has shape {proba.shape} but Y_true has {Y_true.shape}.")
    n_labels = Y_true.shape[1]
    names = list(class_names) if class_names is not None else class_names_of(n_labels)
    tuned_thresholds = check_thresholds(threshold, n_labels)
    settings = {"0.5": np.full(n_labels, 0.5), "tuned": tuned_thresholds}
    summary = {"n_samples": int(Y_true.shape[0]), "n_labels": n_labels}
    tables = {}
    for key, thresholds in settings.items():
        Y_pred = apply_thresholds(proba, thresholds)
        boot = bootstrap_macro_f1(Y_true, Y_pred, n_boot=n_boot, random_state=random_state)
        summary[key] = {
            "macro_f1": float(boot.score),
            "macro_f1_ci95": [float(boot.low), float(boot.high)],
            "micro_f1": _micro_f1(Y_true, Y_pred),
        }
        tables[key] = per_class_scores(Y_true, Y_pred, class_names=names)
    clipped = np.clip(proba, _EPS, 1 - _EPS)
    summary["bce_loss"] = float(-np.mean(Y_true * np.log(clipped) + (1 - Y_true) * np.log(1 - clipped)))

    per_class = []
    for j in range(n_labels):
        tuned, half = tables["tuned"].iloc[j], tables["0.5"].iloc[j]
        per_class.append({
            "class_id": j,
            "name": names[j],
            "support": int(tuned["support"]),
            "threshold": float(tuned_thresholds[j]),
            "precision": float(tuned["precision"]),
            "recall": float(tuned["recall"]),
            "f1": float(tuned["f1"]),
            "f1_at_0.5": float(half["f1"]),
        })

    candidates, curves = f1_threshold_curves(Y_true, proba, thresholds=_CURVE_THRESHOLDS)
    order = sorted(range(n_labels), key=lambda j: (-per_class[j]["f1"], j))
    figures = {
        "per_class_f1": {
            "class_id": order,
            "name": [names[j] for j in order],
            "f1_tuned": [per_class[j]["f1"] for j in order],
            "f1_at_0.5": [per_class[j]["f1_at_0.5"] for j in order],
            "support": [per_class[j]["support"] for j in order],
        },
        "f1_vs_threshold": {
            "thresholds": candidates[:, 0].tolist(),
            "f1": curves.T.tolist(),  # one curve per class
            "chosen": tuned_thresholds.tolist(),
        },
        "label_frequency": {
            "name": names,
            "evaluated": Y_true.sum(axis=0).astype(int).tolist(),
        },
    }
    if train_target is not None:
        train_target = check_label_matrix(train_target, name="train_target")
        figures["label_frequency"]["training"] = train_target.sum(axis=0).astype(int).tolist()
    if history:
        figures["training_curves"] = {k: [float(v) for v in vals] for k, vals in history.items()}
    return {"summary": summary, "per_class": per_class, "figures": figures}


def _plot_per_class_f1(data, path):
    import matplotlib.pyplot as plt

    n = len(data["name"])
    fig, ax = plt.subplots(figsize=(8, 0.28 * n + 1.2))
    y = np.arange(n)
    ax.barh(y, data["f1_tuned"], color="#2a9d8f", label="tuned thresholds")
    ax.scatter(data["f1_at_0.5"], y, color="#e76f51", marker="|", s=120, label="threshold 0.5",
               zorder=3)
    for yi, (f1, support) in enumerate(zip(data["f1_tuned"], data["support"])):
        ax.text(f1 + 0.01, yi, f"n={support}", va="center", fontsize=7, color="#555")
    ax.set_yticks(y, [f"{c}: {name}" for c, name in zip(data["class_id"], data["name"])], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("F1")
    ax.set_title("Per-class F1 (sorted; n = positives in the evaluated data)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _plot_f1_vs_threshold(data, names, path):
    import matplotlib.pyplot as plt

    n = len(names)
    cols = 7
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.7 * rows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for j, ax in enumerate(axes):
        if j >= n:
            ax.axis("off")
            continue
        ax.plot(data["thresholds"], data["f1"][j], color="#264653", lw=1.2)
        ax.axvline(data["chosen"][j], color="#2a9d8f", lw=1, label="chosen")
        ax.axvline(0.5, color="#e76f51", lw=0.8, ls="--", label="0.5")
        ax.set_title(f"{j}: {names[j]}"[:28], fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=6, loc="upper right")
    fig.supxlabel("threshold", fontsize=8)
    fig.supylabel("F1", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def _plot_label_frequency(data, path):
    import matplotlib.pyplot as plt

    n = len(data["name"])
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = np.arange(n)
    series = [("evaluated", "#264653")] + ([("training", "#e9c46a")] if "training" in data else [])
    width = 0.8 / len(series)
    for k, (key, colour) in enumerate(series):
        counts = np.asarray(data[key], dtype=float)
        share = counts / max(counts.sum(), 1)
        ax.bar(x + (k - (len(series) - 1) / 2) * width, share, width, color=colour,
               label=f"{key} (n labels={int(counts.sum())})")
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{j}" for j in range(n)], fontsize=7)
    ax.set_xlabel("class id")
    ax.set_ylabel("share of labels (log)")
    ax.set_title("Label frequency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _plot_training_curves(data, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, metric, label in ((axes[0], "loss", "loss"), (axes[1], "f1", "macro F1 (threshold 0.5)")):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in data:
                epochs = np.arange(1, len(data[key]) + 1)
                ax.plot(epochs, data[key], style, marker="o", ms=3,
                        label="validation" if key.startswith("val_") else "training")
        ax.set_xlabel("epoch")
        ax.set_title(label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _plot_examples(images, channels, true_labels, pred_labels, ids, path):
    import matplotlib.pyplot as plt

    n = len(images)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 4.1 * rows))
    axes = np.atleast_1d(axes).ravel()
    rgb = hpa_composite(images, channels)
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(rgb[i], interpolation="nearest")
        truth, pred = set(true_labels[i]), set(pred_labels[i])
        text = (f"{ids[i]}\ntrue: {' '.join(map(str, sorted(truth))) or '-'}\n"
                f"pred: {' '.join(map(str, sorted(pred))) or '-'}")
        colour = "#2a9d8f" if truth == pred else "#e76f51"
        ax.set_title(text, fontsize=7, color=colour)
    fig.suptitle("Examples (HPA colours: protein green, nucleus blue, microtubules red, ER yellow)",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _html_page(report, figure_files, title):
    s = report["summary"]
    esc = html.escape

    def ci(key):
        low, high = s[key]["macro_f1_ci95"]
        return f"{s[key]['macro_f1']:.4f} [{low:.4f}, {high:.4f}]"

    rows = "\n".join(
        "<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in (
            r["class_id"], r["name"], r["support"], f"{r['threshold']:.3f}", f"{r['precision']:.3f}",
            f"{r['recall']:.3f}", f"{r['f1']:.3f}", f"{r['f1_at_0.5']:.3f}")) + "</tr>"
        for r in report["per_class"]
    )
    images = "\n".join(
        f'<h2>{esc(caption)}</h2><img src="{esc(name)}" alt="{esc(caption)}">'
        for name, caption in figure_files
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
td:nth-child(2) {{ text-align: left; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{s['n_samples']} samples, {s['n_labels']} labels. Confidence intervals: 95% percentile bootstrap
over samples.</p>
<table>
<tr><th></th><th>threshold 0.5</th><th>tuned thresholds</th></tr>
<tr><td>macro F1 [95% CI]</td><td>{ci('0.5')}</td><td>{ci('tuned')}</td></tr>
<tr><td>micro F1</td><td>{s['0.5']['micro_f1']:.4f}</td><td>{s['tuned']['micro_f1']:.4f}</td></tr>
<tr><td>binary cross-entropy</td><td colspan="2">{s['bce_loss']:.4f}</td></tr>
</table>
<h2>Per class</h2>
<table>
<tr><th>id</th><th>class</th><th>support</th><th>threshold</th><th>precision</th><th>recall</th>
<th>F1 (tuned)</th><th>F1 (0.5)</th></tr>
{rows}
</table>
{images}
</body></html>
"""


def write_report(out_dir, Y_true, proba, threshold=0.5, *, images=None, channels=None, ids=None,
                 history=None, train_target=None, class_names=None, n_examples=8, n_boot=1000,
                 random_state=0, title="hpa-sklearn evaluation report", run=None):
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
        How the evaluated model was made (a model folder's ``run`` record), kept in the report.

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
    >>> report = write_report(tempfile.mkdtemp(), Y, proba, threshold=0.3, n_boot=50)
    >>> sorted(report["summary"])
    ['0.5', 'bce_loss', 'n_labels', 'n_samples', 'tuned']
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    with atomic_folder(Path(out_dir), replaceable=replaceable("report")) as tmp:
        report = _write_report(tmp, Y_true, proba, threshold, images=images, channels=channels,
                               ids=ids, history=history, train_target=train_target,
                               class_names=class_names, n_examples=n_examples, n_boot=n_boot,
                               random_state=random_state, title=title, run=run)
        write_marker(tmp, "report")
    return report


def _write_report(out_dir, Y_true, proba, threshold, *, images, channels, ids, history,
                  train_target, class_names, n_examples, n_boot, random_state, title, run):
    report = compute_report(Y_true, proba, threshold, class_names=class_names, history=history,
                            train_target=train_target, n_boot=n_boot, random_state=random_state)
    if run is not None:
        report["run"] = run
    names = [r["name"] for r in report["per_class"]]
    figures = report["figures"]
    files = [("per_class_f1.png", "Per-class F1"), ("f1_vs_threshold.png", "F1 against threshold"),
             ("label_frequency.png", "Label frequency")]
    _plot_per_class_f1(figures["per_class_f1"], out_dir / "per_class_f1.png")
    _plot_f1_vs_threshold(figures["f1_vs_threshold"], names, out_dir / "f1_vs_threshold.png")
    _plot_label_frequency(figures["label_frequency"], out_dir / "label_frequency.png")
    if "training_curves" in figures:
        _plot_training_curves(figures["training_curves"], out_dir / "training_curves.png")
        files.append(("training_curves.png", "Training curves"))
    if images is not None and n_examples > 0:
        picked = np.unique(np.linspace(0, len(images) - 1, min(n_examples, len(images))).astype(int))
        thresholds = [r["threshold"] for r in report["per_class"]]
        Y_pred = apply_thresholds(np.asarray(proba)[picked], thresholds)
        examples = np.asarray(images[picked])
        if channels is None:
            channels = ("red", "green", "blue", "yellow")[: examples.shape[-1]]
        ids_shown = [str(ids[i]) if ids is not None else str(i) for i in picked]
        figures["examples"] = {
            "ids": ids_shown,
            "true": [np.flatnonzero(np.asarray(Y_true)[i]).tolist() for i in picked],
            "predicted": [np.flatnonzero(row).tolist() for row in Y_pred],
        }
        _plot_examples(examples, tuple(channels), figures["examples"]["true"],
                       figures["examples"]["predicted"], ids_shown, out_dir / "examples.png")
        files.append(("examples.png", "Example images with true and predicted labels"))
    report["files"] = ["index.html", "report.json", *[name for name, _ in files]]
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "report.json", report, indent=1)
    atomic_write_text(out_dir / "index.html", _html_page(report, files, title))
    return report


def plot_search(results, params):
    """One panel per searched parameter: each candidate's mean cross-validated macro F1 against
    the parameter's value (``results`` is ``cv_results_`` as a DataFrame). Returns the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    scores = results["mean_test_score"].to_numpy(dtype=float)
    for ax, name in zip(axes, params):
        values = results[f"param_{name}"].astype(str)
        levels = sorted(values.unique(), key=lambda v: (len(v), v))
        x = np.array([levels.index(v) for v in values])
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(x))
        ax.scatter(x + jitter, scores, s=12, alpha=0.6, color="#264653")
        ax.set_xticks(range(len(levels)), levels, rotation=45, fontsize=7)
        ax.set_title(name.split("__")[-1], fontsize=9)
    axes[0].set_ylabel("mean CV macro F1")
    fig.suptitle("Search over the report's tuning table (each dot a candidate)", fontsize=10)
    fig.tight_layout()
    return fig
