"""Benchmark: which recipe the command line trains by default (the "cpu" recipe).

Compares, at equal training time, the two recipes a user without a GPU would run:

- ``smallcnn``: the small batch-normalized CNN from scratch, one-cycle schedule at the rate
  ``lr_find`` suggested for it, flips and right-angle rotations, 8-view test-time augmentation;
- ``mobilenet``: MobileNetV3-Small (from scratch here: this machine cannot download the ImageNet
  weights) with a warm-up and cosine schedule, the same augmentation and test-time augmentation;

each at 64 and 128 px, on two data sets, 3 seeds:

- the real HPA samples of ``../shared/data/hpa/train_images`` (76 images, loaded with
  ``load_hpa``), split 75/25 per seed (multilabel-stratified);
- ``make_hpa_like(--n)`` (default 1,000 images), split 80/20 per seed.

Every configuration trains through ``hpa_sklearn.workflows.train_model`` exactly as ``hpa-sklearn
train`` does (a fit on the training part plus a 20 % hold-out fold model for per-class thresholds),
with the same time budget (``--budget`` seconds for the whole job, shared by its two fits, so that
epochs adapt to each network's speed), and is scored on the test part with its tuned thresholds
(macro F1, the competition's metric) and at 0.5. Writes ``bench_default_recipe.{json,md}``.

Run: ``python benchmarks/bench_default_recipe.py`` (about 75 minutes on 2 cores) or ``--quick``.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

RECIPES = ("smallcnn", "mobilenet")


def _parse():
    parser = _common.parser(__doc__)
    parser.add_argument("--n", type=int, default=None, help="HPA-like images (default 1000)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="default 64 128")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    parser.add_argument("--budget", type=float, default=None,
                        help="training seconds per configuration (default: 120 for the real "
                             "samples, 240 for the HPA-like images)")
    parser.add_argument("--datasets", nargs="+", default=None, choices=("real", "hpa_like"))
    args = parser.parse_args()
    args.n = args.n or (48 if args.quick else 1000)
    args.sizes = args.sizes or ([32] if args.quick else [64, 128])
    args.seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    args.datasets = args.datasets or (["hpa_like"] if args.quick else ["real", "hpa_like"])
    return args


def _data(name, size, n, seed):
    """``(X_train, Y_train, X_test, Y_test)`` of a data set at ``size`` px for ``seed``."""
    from hpa_sklearn.datasets import load_hpa, make_hpa_like
    from hpa_sklearn.model_selection import multilabel_train_test_split

    if name == "real":
        folder = _common.real_data_dir()
        data = load_hpa(folder, labels=folder / "train_images_labels.csv",
                        image_dir=folder / "train_images", image_size=size, n_jobs=2, verbose=0)
        X, Y, test_size = np.asarray(data.images), data.target, 0.25
    else:
        X, Y = make_hpa_like(n, size, random_state=seed, return_X_y=True)
        test_size = 0.2
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(X, Y, test_size=test_size,
                                                                   random_state=seed)
    return X_train, Y_train, X_test, Y_test


def _score(model, X, Y, thresholds):
    from hpa_sklearn._decision import apply_thresholds
    from hpa_sklearn.metrics import macro_f1

    proba = model.predict_proba(X)
    return {"macro_f1_tuned": float(macro_f1(Y, apply_thresholds(proba, thresholds,
                                                                 at_least_one_label=True))),
            "macro_f1_at_0.5": float(macro_f1(Y, apply_thresholds(proba, 0.5)))}


def _one(recipe, data, size, seed, budget, quick):
    from hpa_sklearn.recipes import make_classifier
    from hpa_sklearn.workflows import train_model

    X_train, Y_train, X_test, Y_test = data
    classifier = make_classifier(recipe, weights=None, random_state=seed, verbose=0,
                                 epochs=2 if quick else 200)
    start = time.perf_counter()
    result = train_model(X_train, Y_train, classifier, cv=0.2, time_budget=budget,
                         random_state=seed, say=lambda message: None)
    seconds = time.perf_counter() - start
    model = result.model.set_params(verbose=0)
    scores = _score(model, X_test, Y_test, model.threshold)
    return {"recipe": recipe, "size": size, "seed": seed, "seconds": round(seconds, 1),
            "epochs": len(model.history_.get("loss", [])), "n_train": int(len(Y_train)),
            "n_test": int(len(Y_test)),
            "test_classes_with_positives": int((Y_test.sum(axis=0) > 0).sum()), **scores}


def _summary(runs):
    rows = {}
    for run in runs:
        key = (run["dataset"], run["size"], run["recipe"])
        rows.setdefault(key, []).append(run)
    table = []
    for (dataset, size, recipe), group in sorted(rows.items()):
        tuned = [r["macro_f1_tuned"] for r in group]
        table.append({"dataset": dataset, "size": size, "recipe": recipe,
                      "macro_f1_tuned_mean": float(np.mean(tuned)),
                      "macro_f1_tuned_per_seed": tuned,
                      "macro_f1_at_0.5_mean": float(np.mean([r["macro_f1_at_0.5"]
                                                             for r in group])),
                      "epochs_mean": float(np.mean([r["epochs"] for r in group])),
                      "seconds_mean": float(np.mean([r["seconds"] for r in group]))})
    wins = {}
    for row in table:
        best = max((r for r in table if (r["dataset"], r["size"]) == (row["dataset"],
                                                                       row["size"])),
                   key=lambda r: r["macro_f1_tuned_mean"])
        wins[f"{row['dataset']} {row['size']} px"] = best["recipe"]
    counts = {recipe: list(wins.values()).count(recipe) for recipe in RECIPES}
    return table, wins, max(counts, key=counts.get)


def main():
    args = _parse()
    _common.quiet_tensorflow()
    run = _common.Run("bench_default_recipe", args)
    runs = []
    for dataset in args.datasets:
        if dataset == "real" and _common.real_data_dir() is None:
            print("real HPA data not found (../shared/data/hpa or $HPA_SKLEARN_DATA): skipped")
            continue
        budget = args.budget or (10.0 if args.quick else (120.0 if dataset == "real" else 240.0))
        for size in args.sizes:
            for seed in args.seeds:
                data = _data(dataset, size, args.n, seed)
                for recipe in RECIPES:
                    result = {"dataset": dataset, "budget_s": budget,
                              **_one(recipe, data, size, seed, budget, args.quick)}
                    runs.append(result)
                    print(result, flush=True)
    table, wins, winner = _summary(runs)
    lines = ["# The default recipe: smallcnn against MobileNetV3-Small at equal training time",
             "| data | size | recipe | macro F1 tuned (mean) | per seed | at 0.5 | epochs | s |",
             "|---|---|---|---|---|---|---|---|"]
    for row in table:
        lines.append(f"| {row['dataset']} | {row['size']} | {row['recipe']} | "
                     f"{row['macro_f1_tuned_mean']:.3f} | "
                     + ", ".join(f"{v:.3f}" for v in row["macro_f1_tuned_per_seed"])
                     + f" | {row['macro_f1_at_0.5_mean']:.3f} | {row['epochs_mean']:.0f} | "
                     f"{row['seconds_mean']:.0f} |")
    lines += ["", "Best per setting: " + "; ".join(f"{k}: {v}" for k, v in wins.items()),
              "", f"Winner (most settings): **{winner}**"]
    run.finish({"runs": runs, "table": table, "best_per_setting": wins, "winner": winner},
               lines)


if __name__ == "__main__":
    main()
