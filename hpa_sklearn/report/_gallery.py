"""The report's gallery of example images: each image in the HPA's display colours, its true and
predicted classes by name with their probabilities, right and wrong marked, and (when given) the
heatmap of where the model saw each class."""

import numpy as np

from .._constants import HPA_DISPLAY_COLOURS
from .._io.atomic import save_figure

RIGHT, FALSE_POSITIVE, MISSED = "#1b7f3b", "#c0392b", "#d68910"
_STAINS = {"red": "microtubules", "green": "protein", "blue": "nucleus", "yellow": "ER"}


def hpa_composite(images, channels):
    """Render images ``(n, h, w, c)`` as RGB floats in [0, 1], each stain in its HPA display colour
    (protein green, nucleus blue, microtubules red, ER yellow)."""
    colours = np.array([HPA_DISPLAY_COLOURS[c] for c in channels], dtype=np.float32)
    rgb = np.asarray(images, dtype=np.float32) @ colours
    if np.asarray(images).dtype == np.uint8:
        rgb /= 255.0
    return np.clip(rgb, 0.0, 1.0)


def _mark(true, predicted):
    if true and predicted:
        return "right", RIGHT
    if predicted:
        return "predicted, not true", FALSE_POSITIVE
    return "true, missed", MISSED


def plot_gallery(images, channels, examples, names, path, *, heatmaps=None, max_classes=4):
    """Draw the gallery to ``path``.

    Parameters
    ----------
    images : array (n, h, w, c)
    channels : sequence of str
    examples : dict
        ``ids``, ``true`` and ``predicted`` (lists of class ids per image) and ``proba`` (the
        28 probabilities per image).
    names : sequence of str
        Class names.
    heatmaps : array of shape (n, n_classes, h, w) or None
        Heatmaps of the classes in ``examples["shown"]`` (one row of panels per image).
    max_classes : int
        Most classes shown per image (true and predicted ones first, by probability).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = len(images)
    rgb = hpa_composite(images, channels)
    shown = examples["shown"]
    columns = 1 + (max(len(s) for s in shown) if heatmaps is not None and shown else 0)
    if heatmaps is None:
        columns = min(n, 4)
        rows = int(np.ceil(n / columns))
    else:
        rows = n
    fig, axes = plt.subplots(rows, columns, figsize=(2.9 * columns, 3.6 * rows + 1.0),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes[i, 0] if heatmaps is not None else axes.ravel()[i]
        ax.imshow(rgb[i], interpolation="nearest")
        truth, predicted = set(examples["true"][i]), set(examples["predicted"][i])
        lines = [str(examples["ids"][i])]
        for j in sorted(truth | predicted, key=lambda j: -examples["proba"][i][j])[:max_classes]:
            label, colour = _mark(j in truth, j in predicted)
            lines.append(f"{names[j][:24]} {examples['proba'][i][j]:.2f}"
                         + ("" if label == "right" else " *" if label.startswith("pred") else " -"))
        all_right = truth == predicted
        ax.set_title("\n".join(lines), fontsize=7.5, loc="left",
                     color=RIGHT if all_right else FALSE_POSITIVE)
        if heatmaps is None:
            continue
        grey = rgb[i].mean(axis=-1)
        for k, j in enumerate(shown[i]):
            panel = axes[i, 1 + k]
            panel.imshow(grey, cmap="gray", interpolation="nearest")
            panel.imshow(heatmaps[i, k], cmap="inferno", alpha=0.55, vmin=0,
                         vmax=max(float(np.max(heatmaps[i, k])), 1e-12), interpolation="bilinear")
            label, colour = _mark(j in truth, j in predicted)
            panel.set_title(f"{names[j][:26]}\np={examples['proba'][i][j]:.2f} ({label})",
                            fontsize=7.5, color=colour)
    stains = ", ".join(f"{_STAINS.get(c, c)} {c}" for c in channels)
    legend = [Patch(color=RIGHT, label="right (true and predicted)"),
              Patch(color=FALSE_POSITIVE, label="predicted, not true (*)"),
              Patch(color=MISSED, label="true, missed (-)")]
    fig.legend(handles=legend, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"Colours of the images: {stains}. An image title is green when every label is "
                 "right." + (" Heatmaps: where the model saw each class (bright = strong)."
                             if heatmaps is not None else ""), fontsize=8)
    fig.get_layout_engine().set(h_pad=0.15)
    save_figure(fig, path, dpi=100)
    plt.close(fig)
