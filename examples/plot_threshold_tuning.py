"""
Per-class thresholds against the 0.5 threshold
==============================================

The original report predicted a label when its probability reached 0.5, for all 28 classes, and
named per-class thresholds as the way forward. A class whose probabilities stay below 0.5 is never
predicted and scores an F1 of 0; with a sigmoid trained on rare positives that is the usual case
for the rare classes.

:class:`~hpa_sklearn.MultilabelThresholdTuner` fits the classifier once per
multilabel-stratified fold, pools the probabilities each fold model gives its held-out rows, and
picks for every class the threshold with the highest F1 on them. Macro F1 is the mean of the
per-class F1 scores and class ``j``'s F1 depends only on class ``j``'s threshold, so these 28
one-dimensional searches maximize the out-of-fold macro F1 exactly. With ``refit=False`` the fold
models are kept and their probabilities averaged at prediction time (a fold ensemble), so no
extra fit is needed.

The example compares, on a held-out test part, the same probabilities thresholded

* at 0.5 for every class (the report's rule),
* at the tuned per-class thresholds,
* at the tuned thresholds with ``at_least_one_label=True`` (every HPA image has at least one
  label, so a row left empty gets the class closest to its threshold).

It writes ``thresholds.csv`` (per class: support, tuned threshold, test F1 at 0.5 and tuned),
``scores.csv`` (the three test macro F1) and ``f1_vs_threshold.png`` (the out-of-fold F1 of the
most frequent classes against the threshold, with the tuned threshold and 0.5 marked) into
``--out``.

Run from the repository root::

    python examples/plot_threshold_tuning.py           # 600 images, 32 px, 3 folds: minutes
    python examples/plot_threshold_tuning.py --tiny    # 64 images, 1 epoch, 2 folds: CI setting
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence TensorFlow's start-up messages


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true",
                        help="tiny settings (64 images of 32 px, 1 epoch, 2 folds) for CI")
    parser.add_argument("--out", default="hpa-sklearn-output/examples/threshold_tuning",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--n-samples", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--n-curves", type=int, default=12,
                        help="classes shown in the F1-vs-threshold figure (the most frequent)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.n_samples, args.image_size, args.epochs, args.folds = 64, 32, 1, 2
    return args


def plot_curves(cv_results, thresholds, Y_train, class_names, n_curves, path):
    """F1 against the threshold of the ``n_curves`` most frequent classes (out-of-fold rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    support = Y_train.sum(axis=0).astype(int)
    shown = [j for j in np.argsort(-support, kind="stable")[:n_curves] if support[j] > 0]
    cols = 4
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.3 * rows), sharey=True,
                             squeeze=False)
    for ax in axes.ravel()[len(shown):]:
        ax.axis("off")
    for ax, j in zip(axes.ravel(), shown):
        ax.plot(cv_results["thresholds"][:, j], cv_results["scores"][:, j], color="#264653")
        ax.axvline(thresholds[j], color="#2a9d8f", label=f"tuned {thresholds[j]:.2f}")
        ax.axvline(0.5, color="#e76f51", ls="--", label="0.5")
        ax.set_title(f"{j}: {class_names[j]} (n={support[j]})", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=6, loc="upper right")
        ax.tick_params(labelsize=7)
    fig.supxlabel("threshold", fontsize=9)
    fig.supylabel("out-of-fold F1", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import numpy as np
    import pandas as pd

    from hpa_sklearn import (CLASS_NAMES, HPAVGG16Classifier, MultilabelStratifiedKFold,
                             MultilabelThresholdTuner)
    from hpa_sklearn.metrics import macro_f1, per_class_f1
    from hpa_sklearn.model_selection import multilabel_train_test_split
    from hpa_sklearn.datasets import make_hpa_like

    X, Y = make_hpa_like(n_samples=args.n_samples, image_size=args.image_size,
                         random_state=args.seed, return_X_y=True)
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
        X, Y, test_size=0.25, random_state=args.seed)

    # weights="imagenet" (the estimator's default) would start from ImageNet (a download)
    classifier = HPAVGG16Classifier(weights=None, epochs=args.epochs, batch_size=16,
                                    learning_rate=3e-4, random_state=args.seed, verbose=0)
    tuner = MultilabelThresholdTuner(
        classifier,
        cv=MultilabelStratifiedKFold(n_splits=args.folds, random_state=args.seed),
        refit=False,             # keep the fold models: predict averages them (no extra fit)
        store_cv_results=True,   # keep the F1-vs-threshold curves for the figure
    )
    tuner.fit(X_train, Y_train)  # warns about classes without a positive (kept at 0.5)
    print(f"out-of-fold macro F1 at the tuned thresholds: {tuner.best_score_:.4f}")

    proba = tuner.predict_proba(X_test)                  # the fold ensemble's probabilities
    Y_half = (proba >= 0.5).astype(np.uint8)             # the report's rule
    Y_tuned = tuner.predict(X_test)                      # proba >= best_thresholds_
    Y_one = tuner.set_params(at_least_one_label=True).predict(X_test)
    scores = pd.DataFrame({
        "rule": ["threshold 0.5", "tuned thresholds", "tuned + at_least_one_label"],
        "test_macro_f1": [macro_f1(Y_test, Y_half), macro_f1(Y_test, Y_tuned),
                          macro_f1(Y_test, Y_one)],
    })
    print(scores.round(4).to_string(index=False))
    scores.to_csv(out / "scores.csv", index=False)

    table = pd.DataFrame({
        "class": list(CLASS_NAMES),
        "train_support": Y_train.sum(axis=0),
        "test_support": Y_test.sum(axis=0),
        "threshold": tuner.best_thresholds_,
        "test_f1_at_0.5": per_class_f1(Y_test, Y_half),
        "test_f1_tuned": per_class_f1(Y_test, Y_tuned),
    })
    table.to_csv(out / "thresholds.csv", index_label="class_id")
    plot_curves(tuner.cv_results_, tuner.best_thresholds_, Y_train, CLASS_NAMES, args.n_curves,
                out / "f1_vs_threshold.png")
    print(f"wrote {out / 'scores.csv'}, {out / 'thresholds.csv'} and "
          f"{out / 'f1_vs_threshold.png'}")


if __name__ == "__main__":
    main()
