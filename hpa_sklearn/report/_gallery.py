"""The gallery of example images (the report's, and ``hpa-sklearn explain``'s): each image's four
stains in the HPA's display colours, its protein channel alone, its true and predicted classes by
name with their probabilities, right and wrong marked, and (when given) the heatmap of where the
model saw each of those classes."""

import html

import numpy as np

from .._constants import HPA_DISPLAY_COLOURS
from .._io.atomic import save_figure

RIGHT, FALSE_POSITIVE, MISSED, OTHER = "#1b7f3b", "#c0392b", "#d68910", "#555555"
_STAINS = {"red": "microtubules", "green": "protein", "blue": "nucleus", "yellow": "ER"}
_MARKS = {"right": "", "predicted, not true": " *", "true, missed": " -", "asked": ""}


def hpa_composite(images, channels):
    """Render images ``(n, h, w, c)`` as RGB floats in [0, 1], each stain in its HPA display colour
    (protein green, nucleus blue, microtubules red, ER yellow)."""
    colours = np.array([HPA_DISPLAY_COLOURS[c] for c in channels], dtype=np.float32)
    rgb = np.asarray(images, dtype=np.float32) @ colours
    if np.asarray(images).dtype == np.uint8:
        rgb /= 255.0
    return np.clip(rgb, 0.0, 1.0)


def _mark(true, predicted, labelled=True):
    """``(label, colour)`` of a class of an image: right, a false positive, a missed class, or
    (without labels, or a class that is neither) just asked for."""
    if labelled and true and predicted:
        return "right", RIGHT
    if labelled and predicted:
        return "predicted, not true", FALSE_POSITIVE
    if labelled and true:
        return "true, missed", MISSED
    return ("predicted" if predicted else "asked"), OTHER


def listed_classes(truth, predicted, proba):
    """The classes of an image in the order they are shown: the true ones (right, then missed),
    then the false positives, each by decreasing probability."""
    def order(classes):
        return sorted(classes, key=lambda j: -proba[j])

    return order(truth & predicted) + order(truth - predicted) + order(predicted - truth)


def _protein(images, channels):
    """The protein (green) channel of each image in [0, 1], or the mean stain without one."""
    scale = 255.0 if np.asarray(images).dtype == np.uint8 else 1.0
    images = np.asarray(images, dtype=np.float32)
    if "green" in channels:
        return images[..., list(channels).index("green")] / scale, True
    return images.mean(axis=-1) / scale, False


def plot_gallery(images, channels, examples, names, path, *, heatmaps=None, max_classes=4,
                 method=None):
    """Draw the gallery to ``path``.

    Parameters
    ----------
    images : array (n, h, w, c)
    channels : sequence of str
    examples : dict
        ``ids``, ``true`` and ``predicted`` (lists of class ids per image; ``true`` may be None
        for unlabelled images), ``proba`` (the probabilities per image) and ``shown`` (the
        classes whose heatmaps are drawn, per image).
    names : sequence of str
        Class names.
    heatmaps : array of shape (n, n_classes, h, w) or None
        Heatmaps of the classes in ``examples["shown"]`` (one row of panels per image).
    max_classes : int
        Most classes listed per image (true and predicted ones first, by probability).
    method : str, default=None
        How the heatmaps were made ("gradcam", "occlusion"), named in the caption.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = len(images)
    rgb = hpa_composite(images, channels)
    protein, has_green = _protein(images, channels)
    shown = examples.get("shown") or [[] for _ in range(n)]
    labelled = examples.get("true") is not None
    true_sets = [set(t) for t in examples["true"]] if labelled else [set() for _ in range(n)]
    if heatmaps is None:
        columns = min(n, 4)
        rows = int(np.ceil(n / columns))
    else:
        columns, rows = 2 + max((len(s) for s in shown), default=0), n
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 3.4 * rows + 1.0),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes[i, 0] if heatmaps is not None else axes.ravel()[i]
        ax.imshow(rgb[i], interpolation="nearest")
        truth, predicted = true_sets[i], set(examples["predicted"][i])
        proba = examples["proba"][i]
        lines = [str(examples["ids"][i])]
        for j in listed_classes(truth, predicted, proba)[:max_classes]:
            label, _ = _mark(j in truth, j in predicted, labelled)
            lines.append(f"{names[j][:24]} {proba[j]:.2f}{_MARKS.get(label, '')}")
        colour = OTHER if not labelled else RIGHT if truth == predicted else FALSE_POSITIVE
        ax.set_title("\n".join(lines), fontsize=7.5, loc="left", color=colour)
        if heatmaps is None:
            continue
        axes[i, 1].imshow(np.stack([np.zeros_like(protein[i]), protein[i],
                                    np.zeros_like(protein[i])], -1) if has_green
                          else protein[i], cmap=None if has_green else "gray",
                          interpolation="nearest")
        axes[i, 1].set_title("protein (green)" if has_green else "mean stain", fontsize=7.5)
        for k, j in enumerate(shown[i]):
            if j < 0:  # a padding slot
                continue
            panel = axes[i, 2 + k]
            heat = np.asarray(heatmaps[i, k], dtype=np.float32)
            peak = float(np.max(heat))
            panel.imshow(protein[i], cmap="gray", interpolation="nearest", vmin=0,
                         vmax=max(float(protein[i].max()), 1e-6))
            # opaque where the evidence is strong, the protein showing through elsewhere
            panel.imshow(heat, cmap="inferno", vmin=0, vmax=max(peak, 1e-12),
                         alpha=0.85 * np.clip(heat / max(peak, 1e-12), 0, 1) ** 0.7,
                         interpolation="nearest")
            label, colour = _mark(j in truth, j in predicted, labelled)
            note = "" if peak > 0 else ", no evidence"
            panel.set_title(f"{names[j][:26]}\np={proba[j]:.2f} ({label}{note})", fontsize=7.5,
                            color=colour)
    stains = ", ".join(f"{_STAINS.get(c, c)} {c}" for c in channels)
    legend = [Patch(color=RIGHT, label="right (true and predicted)"),
              Patch(color=FALSE_POSITIVE, label="predicted, not true (*)"),
              Patch(color=MISSED, label="true, missed (-)")]
    if labelled:
        fig.legend(handles=legend, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    about = {"gradcam": " (Grad-CAM)", "occlusion": " (occlusion)"}.get(method, "")
    fig.suptitle(f"Colours of the images: {stains}. "
                 + ("An image title is green when every label is right. " if labelled else "")
                 + (f"Heatmaps{about}, over the protein channel: where the model saw each class "
                    "(bright = strong)." if heatmaps is not None else ""), fontsize=8)
    fig.get_layout_engine().set(h_pad=0.15)
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def gallery_page(title, image_file, examples, names, *, method=None, notes=()):
    """A small HTML page: the gallery image and, per image, its classes with probabilities."""
    rows = []
    labelled = examples.get("true") is not None
    for i, sample_id in enumerate(examples["ids"]):
        truth = set(examples["true"][i]) if labelled else set()
        predicted = set(examples["predicted"][i])
        cells = []
        for j in examples["shown"][i]:
            if j < 0:
                continue
            label, colour = _mark(j in truth, j in predicted, labelled)
            cells.append(f"<span style='color:{colour}'>{html.escape(names[j])} "
                         f"{examples['proba'][i][j]:.2f} ({label})</span>")
        true_text = (", ".join(html.escape(names[j]) for j in sorted(truth)) if labelled
                     else "unknown")
        rows.append(f"<tr><td>{html.escape(str(sample_id))}</td><td>{true_text}</td>"
                    f"<td>{'<br>'.join(cells)}</td></tr>")
    notes = "".join(f"<p>{html.escape(note)}</p>" for note in notes)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title><style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
            "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;"
            "vertical-align:top}img{max-width:100%}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{notes}"
            f"<p><img src='{html.escape(image_file)}' alt='gallery'></p>"
            "<table><tr><th>id</th><th>true classes</th><th>heatmaps shown (probability)"
            f"</th></tr>{''.join(rows)}</table></body></html>\n")
