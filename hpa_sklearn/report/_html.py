"""The report's HTML page: a run card (how the model was made and evaluated), a short "how to read
this", the summary, the per-class table and the figures."""

import datetime
import html
import subprocess
from pathlib import Path

MICRO, PER_IMAGE = "micro_f1", "labels_per_image"
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222;
       padding: 0 1em; line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 3px 9px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
td.name, th.name { text-align: left; }
.card td { text-align: left; }
.card td:first-child { color: #555; }
.explain { background: #f6f8f7; border-left: 4px solid #2a9d8f; padding: 0.6em 1.2em;
           font-size: 0.93em; }
img { max-width: 100%; border: 1px solid #eee; }
.zero { color: #999; }
"""


def library_commit():
    """The git commit of the installed library's source, when it is a git checkout."""
    source = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def run_card(run):
    """The rows (label, value) of the run card."""
    from .. import __version__

    run = dict(run or {})
    rows = [("library", f"hpa-sklearn {__version__}"
             + (f" (commit {library_commit()})" if library_commit() else "")),
            ("report written", datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))]

    def add(label, *keys, fmt=str):
        for key in keys:
            if run.get(key) not in (None, ""):
                rows.append((label, fmt(run[key])))
                return

    add("command", "command", fmt=lambda v: f"hpa-sklearn {v}")
    add("recipe", "recipe")
    add("backbone", "backbone")
    add("image size", "image_size", fmt=lambda v: f"{v} px")
    add("channels", "channels", fmt=lambda v: ", ".join(v) if isinstance(v, list) else str(v))
    if run.get("time_budget"):
        rows.append(("training", f"time budget {run['time_budget']:.0f} s"
                     + (f", {run['epochs_done']} epochs trained" if run.get("epochs_done")
                        else "")))
    elif run.get("epochs") or run.get("epochs_done"):
        rows.append(("training", f"{run.get('epochs_done', run.get('epochs'))} epochs"
                     + (" (interrupted)" if run.get("interrupted") else "")))
    add("thresholds", "thresholds")
    add("training data", "data")
    add("training images", "n_train", fmt=lambda v: f"{v:,}"
        + (f" (+ {run['n_extra']:,} extra)" if run.get("n_extra") else "")
        + (f", + {run['n_validation']:,} for the thresholds" if run.get("n_validation") else ""))
    add("evaluated on", "evaluated_on")
    add("evaluated images", "n_evaluated", fmt=lambda v: f"{v:,}")
    if run.get("trained_on_overlap"):
        rows.append(("warning", f"{run['trained_on_overlap']:,} evaluated images were trained on"))
    add("time taken", "seconds", fmt=lambda v: f"{float(v):.0f} s")
    add("seed", "seed")
    return rows


def _how_to_read(summary):
    tuned = "tuned" in summary["settings"]
    present = summary["classes_with_positives"]
    n_labels = summary["n_labels"]
    parts = [
        "<b>Macro F1</b> is the competition's metric: the F1 score of each of the "
        f"{n_labels} classes, averaged with equal weight, so a rare class counts as much as "
        "Nucleoplasm. The 2018 winners reached 0.593 on the real (hidden) test set.",
        f"Only {present} of the {n_labels} classes have a positive among the evaluated images. "
        "A class with none scores 0 (zero_division=0, as the competition did), so the macro F1 "
        f"here cannot exceed {present / n_labels:.2f}; more evaluated images raise that "
        "ceiling." if present < n_labels else
        "Every class has at least one positive among the evaluated images.",
        "<b>Micro F1</b> pools every (image, class) decision: frequent classes dominate it.",
    ]
    if tuned:
        parts.append(
            "<b>Tuned thresholds</b>: each class has its own decision threshold, chosen on "
            "out-of-fold predictions to maximize its F1. Rare classes get low thresholds, so "
            "more labels are predicted (see labels per image): recall of rare classes rises and "
            "macro F1 with it, while micro F1 usually falls, because the extra labels add false "
            "positives that micro F1 counts over all images.")
    else:
        parts.append("This model uses the threshold 0.5 for every class (its thresholds were "
                     "not tuned), so there is one column of scores.")
    parts.append("The interval is a 95% percentile bootstrap over the evaluated images.")
    return "<div class='explain'><h2>How to read this</h2><ul>" + "".join(
        f"<li>{p}</li>" for p in parts) + "</ul></div>"


def html_page(report, figure_files, title):
    """The report's ``index.html``."""
    s = report["summary"]
    esc = html.escape
    settings = s["settings"]
    heads = {"0.5": "threshold 0.5", "tuned": "tuned thresholds"}

    def ci(key):
        low, high = s[key]["macro_f1_ci95"]
        return f"{s[key]['macro_f1']:.4f} [{low:.4f}, {high:.4f}]"

    card = "".join(f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>"
                   for k, v in run_card(report.get("run")))
    def cells(values):
        return "".join(f"<td>{value}</td>" for value in values)

    summary_rows = "".join([
        f"<tr><td>macro F1 [95% interval]</td>{cells(ci(k) for k in settings)}</tr>",
        f"<tr><td>micro F1</td>{cells(f'{s[k][MICRO]:.4f}' for k in settings)}</tr>",
        f"<tr><td>labels per image (true: {s['true_labels_per_image']:.2f})</td>"
        f"{cells(f'{s[k][PER_IMAGE]:.2f}' for k in settings)}</tr>",
        f"<tr><td>binary cross-entropy</td><td colspan='{len(settings)}'>{s['bce_loss']:.4f}"
        "</td></tr>"])
    tuned = "tuned" in settings
    rows = "\n".join(
        f"<tr{' class=zero' if r['support'] == 0 else ''}><td>{r['class_id']}</td>"
        f"<td class=name>{esc(r['name'])}</td><td>{r['support']}</td>"
        + (f"<td>{r['threshold']:.3f}</td>" if tuned else "")
        + f"<td>{r['precision']:.3f}</td><td>{r['recall']:.3f}</td><td>{r['f1']:.3f}</td>"
        + (f"<td>{r['f1_at_0.5']:.3f}</td>" if tuned else "") + "</tr>"
        for r in report["per_class"])
    images = "\n".join(
        f'<h2>{esc(caption)}</h2><img src="{esc(name)}" alt="{esc(caption)}">'
        for name, caption in figure_files)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{esc(title)}</h1>
<h2>Run</h2>
<table class="card">{card}</table>
{_how_to_read(s)}
<h2>Summary ({s['n_samples']} images)</h2>
<table>
<tr><th></th>{''.join(f'<th>{heads[k]}</th>' for k in settings)}</tr>
{summary_rows}
</table>
<h2>Per class</h2>
<p>Grey rows: classes without a positive among the evaluated images (F1 counts as 0).</p>
<table>
<tr><th>id</th><th class=name>class</th><th>positives</th>{'<th>threshold</th>' if tuned else ''}
<th>precision</th><th>recall</th><th>F1</th>{'<th>F1 at 0.5</th>' if tuned else ''}</tr>
{rows}
</table>
{images}
</body></html>
"""
