"""
Cross-validated macro F1 with cross_val_score
=============================================

The original report skipped cross-validation as too slow and gave one test macro F1 (0.11). With
the classifier a scikit-learn estimator, a cross-validated estimate is one call of scikit-learn's
``cross_val_score``:

* :class:`~hpa_sklearn.model_selection.MultilabelStratifiedKFold` folds keep each of the 28 label
  frequencies in every fold (scikit-learn's ``StratifiedKFold`` refuses a multi-label target), and
  are the same at every call (seeded with 0 by default);
* :data:`~hpa_sklearn.metrics.macro_f1_scorer` scores each fold with the competition's metric
  (the mean of the 28 per-class F1 scores, ``zero_division=0``).

The example compares two ``Pipeline`` s that differ in their
:class:`~hpa_sklearn.ChannelSelector` only: the report's three channels (``"rgb"``: red, green,
blue) and all four (``"all"``, with the yellow endoplasmic-reticulum stain), on the same folds.

It writes ``cv_scores.csv`` (one row per channel choice and fold) and ``cv_scores.png`` (the fold
scores and their mean) into ``--out``.

Run from the repository root::

    python examples/plot_cross_val_score.py          # 600 images, 32 px, 3 folds: minutes
    python examples/plot_cross_val_score.py --tiny   # 64 images, 2 folds, "all" only: CI setting
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
    parser.add_argument("--out", default="hpa-sklearn-output/examples/cross_val_score",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--n-samples", type=int, default=600)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--channels", nargs="+", default=["rgb", "all"],
                        help="ChannelSelector presets to compare (default: rgb all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.n_samples, args.image_size, args.epochs, args.folds = 64, 32, 1, 2
        args.channels = ["all"]
    return args


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import numpy as np
    import pandas as pd
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline

    from hpa_sklearn import (ChannelSelector, HPAVGG16Classifier, MultilabelStratifiedKFold,
                             macro_f1_scorer)
    from hpa_sklearn.datasets import make_hpa_like

    X, Y = make_hpa_like(n_samples=args.n_samples, image_size=args.image_size,
                         random_state=args.seed, return_X_y=True)
    cv = MultilabelStratifiedKFold(n_splits=args.folds, random_state=args.seed)

    rows = []
    for channels in args.channels:
        pipeline = Pipeline([
            ("channels", ChannelSelector(channels)),
            # weights="imagenet" (the estimator's default) would start from ImageNet (a download)
            ("classifier", HPAVGG16Classifier(weights=None, epochs=args.epochs, batch_size=16,
                                              learning_rate=3e-4, random_state=args.seed,
                                              verbose=0)),
        ])
        scores = cross_val_score(pipeline, X, Y, scoring=macro_f1_scorer, cv=cv)
        print(f"channels={channels!r}: macro F1 per fold {np.round(scores, 4).tolist()}, "
              f"mean {scores.mean():.4f} +- {scores.std():.4f}")
        rows += [{"channels": channels, "fold": k, "macro_f1": s} for k, s in enumerate(scores)]

    table = pd.DataFrame(rows)
    table.to_csv(out / "cv_scores.csv", index=False)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 * len(args.channels) + 2.5, 3.2))
    for x, (channels, group) in enumerate(table.groupby("channels", sort=False)):
        ax.scatter(np.full(len(group), x), group["macro_f1"], color="#264653", label=None)
        ax.hlines(group["macro_f1"].mean(), x - 0.25, x + 0.25, color="#e76f51")
    ax.set_xticks(range(len(args.channels)), args.channels)
    ax.set_xlim(-0.6, len(args.channels) - 0.4)
    ax.set_xlabel("ChannelSelector preset")
    ax.set_ylabel("macro F1 per fold (line: mean)")
    ax.set_title(f"{args.folds}-fold multilabel-stratified CV")
    fig.tight_layout()
    fig.savefig(out / "cv_scores.png", dpi=100)
    plt.close(fig)
    print(f"wrote {out / 'cv_scores.csv'} and {out / 'cv_scores.png'}")


if __name__ == "__main__":
    main()
