"""The report's charts (matplotlib, written through the atomic figure writer): each is legible at
page width and names the classes."""

import numpy as np

from .._io.atomic import save_figure

_TUNED = "#2a9d8f"
_HALF = "#e76f51"
_INK = "#264653"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _label(class_id, name):
    return f"{class_id}: {name}"


def plot_per_class_f1(data, path):
    """Horizontal bars of each class's F1 (sorted), its number of positives, and the F1 at 0.5
    when the thresholds are tuned."""
    plt = _pyplot()
    n = len(data["name"])
    fig, ax = plt.subplots(figsize=(9, 0.3 * n + 1.4))
    y = np.arange(n)
    tuned = data.get("tuned", True)
    ax.barh(y, data["f1"], color=_TUNED, label="tuned thresholds" if tuned else "threshold 0.5")
    if tuned:
        ax.scatter(data["f1_at_0.5"], y, color=_HALF, marker="|", s=140, label="threshold 0.5",
                   zorder=3)
    for yi, (f1, support) in enumerate(zip(data["f1"], data["support"])):
        ax.text(f1 + 0.01, yi, f"n={support}" + ("  (no positives: F1 counts as 0)"
                                                 if support == 0 else ""),
                va="center", fontsize=8, color="#555")
    ax.set_yticks(y, [_label(c, name) for c, name in zip(data["class_id"], data["name"])],
                  fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("F1")
    ax.set_title("Per-class F1, best first (n = positives among the evaluated images)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_f1_vs_threshold(data, path, *, columns=4):
    """F1 against the threshold, one panel per class WITH positives (a class without any has
    F1 0 at every threshold), four panels a row, the chosen threshold marked."""
    plt = _pyplot()
    n = len(data["class_id"])
    if n == 0:
        return False
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(12, 2.3 * rows + 0.6), sharex=True,
                             sharey=True, squeeze=False)
    axes = axes.ravel()
    tuned = data.get("tuned", True)
    for k, ax in enumerate(axes):
        if k >= n:
            ax.axis("off")
            continue
        ax.plot(data["thresholds"], data["f1"][k], color=_INK, lw=1.4)
        if tuned:
            ax.axvline(data["chosen"][k], color=_TUNED, lw=1.2, label="tuned")
        ax.axvline(0.5, color=_HALF, lw=1, ls="--", label="0.5")
        ax.set_title(_label(data["class_id"][k], data["name"][k]), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.supxlabel("threshold", fontsize=9)
    fig.supylabel("F1", fontsize=9)
    fig.suptitle("F1 against the decision threshold (classes with positives in the evaluated "
                 "images)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return True


def plot_label_frequency(data, path):
    """Share of the labels of each class (log scale), evaluated and training data side by side,
    class names on the axis."""
    plt = _pyplot()
    n = len(data["name"])
    fig, ax = plt.subplots(figsize=(12, 4.8))
    x = np.arange(n)
    series = [("evaluated", _INK)] + ([("training", "#e9c46a")] if "training" in data else [])
    width = 0.8 / len(series)
    for k, (key, colour) in enumerate(series):
        counts = np.asarray(data[key], dtype=float)
        share = counts / max(counts.sum(), 1)
        ax.bar(x + (k - (len(series) - 1) / 2) * width, share, width, color=colour,
               label=f"{key} ({int(counts.sum())} labels)")
    ax.set_yscale("log")
    ax.set_xticks(x, [_label(j, name) for j, name in enumerate(data["name"])], rotation=60,
                  ha="right", fontsize=8)
    ax.set_ylabel("share of the labels (log scale)")
    ax.set_title("Label frequency (a class missing from the bars has no label)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_training_curves(data, path):
    """Loss and macro F1 (at 0.5) per epoch, training and (when there is one) validation."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, metric, label in ((axes[0], "loss", "loss"),
                              (axes[1], "f1", "macro F1 at threshold 0.5")):
        for key, style, name in ((metric, "-", "training"), (f"val_{metric}", "--",
                                                              "validation")):
            if data.get(key):
                epochs = np.arange(1, len(data[key]) + 1)
                ax.plot(epochs, data[key], style, marker="o", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_title(label + ("" if f"val_{metric}" in data else
                              " (training part; no validation part)"), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_search(results, params):
    """One panel per searched parameter: each candidate's mean cross-validated macro F1 against
    the parameter's value (``results`` is ``cv_results_`` as a DataFrame). Returns the figure."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    scores = results["mean_test_score"].to_numpy(dtype=float)
    for ax, name in zip(axes, params):
        values = results[f"param_{name}"].astype(str)
        levels = sorted(values.unique(), key=lambda v: (len(v), v))
        x = np.array([levels.index(v) for v in values])
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(x))
        ax.scatter(x + jitter, scores, s=12, alpha=0.6, color=_INK)
        ax.set_xticks(range(len(levels)), levels, rotation=45, fontsize=7)
        ax.set_title(name.split("__")[-1], fontsize=9)
    axes[0].set_ylabel("mean CV macro F1")
    fig.suptitle("Search over the report's tuning table (each dot a candidate)", fontsize=10)
    fig.tight_layout()
    return fig
