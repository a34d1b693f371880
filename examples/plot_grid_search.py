"""
GridSearchCV over the report's tuning table
===========================================

The original report tuned batch size {16, 32, 64, 128}, learning rate {0.01, 0.005, 0.001,
0.0005, 0.0001}, optimizer {Adam, Adagrad, Adamax}, hidden-layer activation {relu, sigmoid, tanh}
and dropout {0.1, 0.2, 0.25, 0.3}: 720 combinations.
:func:`~hpa_sklearn.model_selection.report_param_grid` returns that table as a scikit-learn
parameter grid, in the parameter names of :class:`~hpa_sklearn.HPAVGG16Classifier` and prefixed
with the name of its ``Pipeline`` step (``"classifier__learning_rate"``, ...).

This example searches a slice of it with scikit-learn's own ``GridSearchCV``: a ``Pipeline`` of a
:class:`~hpa_sklearn.ChannelSelector` (the report's three channels, ``"rgb"``) and the classifier,
scored by :data:`~hpa_sklearn.metrics.macro_f1_scorer` on
:class:`~hpa_sklearn.model_selection.MultilabelStratifiedKFold` folds, then scores the refitted
best pipeline on a held-out test part (``--tiny`` skips that refit). ``--search`` picks what is searched:

``slice`` (default)
    learning rate {0.001, 0.0001} x dropout {0.2, 0.3} of the table (``--tiny``: the two learning
    rates only);
``halving``
    :func:`~hpa_sklearn.model_selection.make_report_search`: successive halving over the table with
    the number of epochs as the budget (``--n-candidates`` combinations drawn at random, or all
    720 without it; the last round trains ``--epochs`` epochs);
``full``
    ``GridSearchCV(pipeline, report_param_grid(), ...)``: all 720 combinations x the folds. Days of
    CPU time; a GPU job.

It writes ``cv_results.csv`` (scikit-learn's ``cv_results_``) and ``search.png`` (mean
cross-validated macro F1 of every candidate) into ``--out``.

Run from the repository root::

    python examples/plot_grid_search.py                       # 4 candidates x 3 folds: minutes
    python examples/plot_grid_search.py --tiny                # 2 candidates x 2 folds: the CI setting
    python examples/plot_grid_search.py --search halving --n-candidates 9 --epochs 9
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
    parser.add_argument("--out", default="hpa-sklearn-output/examples/grid_search",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--search", choices=("slice", "halving", "full"), default="slice")
    parser.add_argument("--n-samples", type=int, default=400)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs of every fit (halving: of the last round; default: %(default)s)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--n-candidates", type=int, default=None,
                        help="halving: combinations drawn from the table (default: all 720)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.n_samples, args.image_size, args.epochs, args.folds = 64, 32, 1, 2
        if args.search == "halving":  # 3 candidates x 1 epoch, then the best x 3 epochs
            args.epochs, args.n_candidates = 3, args.n_candidates or 3
    return args


def plot_search(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = results.sort_values("mean_test_score", ascending=False)
    labels = [", ".join(f"{k.split('__')[-1]}={v}" for k, v in params.items())
              for params in results["params"]]
    y = range(len(results))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(results) + 1.2))
    ax.errorbar(results["mean_test_score"], y, xerr=results["std_test_score"], fmt="o")
    ax.set_yticks(list(y), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("mean cross-validated macro F1 (+- std over folds)")
    ax.set_title("Candidates of the search, best first")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import pandas as pd
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from hpa_sklearn import (ChannelSelector, HPAVGG16Classifier, MultilabelStratifiedKFold,
                             macro_f1_scorer, make_report_search, multilabel_train_test_split,
                             report_param_grid)
    from hpa_sklearn.datasets import make_hpa_like

    X, Y = make_hpa_like(n_samples=args.n_samples, image_size=args.image_size,
                         random_state=args.seed, return_X_y=True)
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
        X, Y, test_size=0.25, random_state=args.seed)

    pipeline = Pipeline([
        ("channels", ChannelSelector("rgb")),  # the report's 3 channels; "all" for RGBY
        # weights="imagenet" (the estimator's default) starts from ImageNet: a download
        ("classifier", HPAVGG16Classifier(weights=None, epochs=args.epochs, batch_size=16,
                                          random_state=args.seed, verbose=0)),
    ])
    cv = MultilabelStratifiedKFold(n_splits=args.folds, random_state=args.seed)

    full_grid = report_param_grid()  # {"classifier__batch_size": [16, 32, 64, 128], ...}
    if args.search == "slice":
        grid = {"classifier__learning_rate": [0.001, 0.0001], "classifier__dropout": [0.2, 0.3]}
        if args.tiny:
            del grid["classifier__dropout"]
        assert all(set(values) <= set(full_grid[key]) for key, values in grid.items())
        # --tiny skips the refit of the best candidate on all of X_train (one fit fewer)
        search = GridSearchCV(pipeline, grid, scoring=macro_f1_scorer, cv=cv, verbose=1,
                              refit=not args.tiny)
    elif args.search == "full":
        # 720 candidates x n_splits fits: the search the report could not afford
        search = GridSearchCV(pipeline, full_grid, scoring=macro_f1_scorer, cv=cv, verbose=1)
    else:
        # successive halving: every candidate gets a few epochs, the best third three times as
        # many, ... until the last round trains args.epochs epochs
        search = make_report_search(pipeline, max_resources=args.epochs,
                                    n_candidates=args.n_candidates, cv=cv,
                                    random_state=args.seed, verbose=1)
    search.fit(X_train, Y_train)

    # one row per candidate (halving: per candidate and round; its params include the epochs)
    results = pd.DataFrame(search.cv_results_)
    results.to_csv(out / "cv_results.csv", index=False)
    plot_search(results, out / "search.png")

    print(f"best parameters: {search.best_params_}")
    print(f"best mean cross-validated macro F1: {search.best_score_:.4f}")
    if search.refit:
        # refit=True (the default): best_estimator_ was refitted on all of X_train
        print(f"test macro F1 of the refitted best pipeline: {search.score(X_test, Y_test):.4f}")
    print(f"wrote {out / 'cv_results.csv'} and {out / 'search.png'}")


if __name__ == "__main__":
    main()
